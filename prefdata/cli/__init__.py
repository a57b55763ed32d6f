"""prefdata's command line: thin typer commands over the library's public API."""

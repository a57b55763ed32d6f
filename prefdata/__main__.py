from prefdata.cli.main import main

main()

from fakescope_cli.app import main

main()

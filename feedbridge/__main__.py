from feedbridge.app.cli import main

main()

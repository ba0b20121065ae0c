from termin360.cli import main

main()

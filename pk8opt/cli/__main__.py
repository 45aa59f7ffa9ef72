from pk8opt.cli import main

main()

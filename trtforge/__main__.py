from trtforge.cli import main

raise SystemExit(main())

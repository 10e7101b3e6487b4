from pagemind.cli import main

raise SystemExit(main())

from callwatch.cli import main

raise SystemExit(main())

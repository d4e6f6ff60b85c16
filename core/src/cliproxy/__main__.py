from cliproxy.cli import main

raise SystemExit(main())

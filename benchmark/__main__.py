"""`python -m benchmark` is the `mmcbench` command (what the workflow rules call)."""

from benchmark.cli import main

raise SystemExit(main())

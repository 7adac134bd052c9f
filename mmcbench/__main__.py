"""`python -m mmcbench` is the `mmcbench` command (what the workflow rules call)."""

from mmcbench.cli import main

raise SystemExit(main())

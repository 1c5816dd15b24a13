#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: boot the QEMU lab with the freshly built driver and tools, play
# a simulated walk on the gait mat, capture it into a session file and show
# it (tests/vm/scenarios/demo-walk.sh). The insoles, refinement and the QC
# report join here as they land.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kernel=${DEMO_KERNEL:-6.1}
echo "demo: booting Debian $kernel in the lab (docs/lab.md)"
exec "$top/tests/vm/lab" --kernel "$kernel" --timeout 300 demo-walk

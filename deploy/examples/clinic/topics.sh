#!/usr/bin/env bash
# Prints the ferry-devbroker arguments (-t TOPIC:PARTITIONS ...) for the
# clinic's topics at a scale.  ferry-devbroker keeps only about 5 MiB per
# partition: every table's topic gets enough partitions for its share of
# the snapshot (the mapping compresses with lz4), so that a sink still
# loading parents loses nothing.  The counts are the tables' rows at
# scale 1.
# deploy/examples/clinic/topics.sh SCALE [PREFIX]
set -euo pipefail
scale=${1:?usage: topics.sh SCALE [PREFIX]}
prefix=${2:-clinic}
topics="-t $prefix.transaction:1 -t $prefix.snapshot:1 -t $prefix.heartbeat:1 -t $prefix.dlq:1"
for tn in dispatch_office:523 auth_user:9751 dispatch_doctor:1200 \
  dispatch_patient:7800 dispatch_jaw:39000 dispatch_instruction:23000 \
  dispatch_instance:7800 dispatch_comment:40000 dispatch_record:60000 \
  dispatch_file:294000 dispatch_treatment_plan:67000 dispatch_payment:16000 \
  dispatch_state:60000 dispatch_notification:975000; do
  parts=$(/usr/bin/python3 -c "import math; print(max(4, math.ceil(${tn#*:} * $scale / 8000)))")
  topics="$topics -t $prefix.public.${tn%%:*}:$parts"
done
echo "$topics"

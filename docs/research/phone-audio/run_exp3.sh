#!/bin/sh
# usage: run_exp3.sh SECONDS DEVICE [RATE] [CODEC]   (env: HOME / ALSA_CONFIG_PATH / PULSE_SERVER as needed)
cd "$(dirname "$0")"
S=${1:-4}; DEV=${2:-csr_headset}; RATE=${3:-16000}; CODEC=${4:-PCMU/8000/1}
nice -n 19 ionice -c3 .venv/bin/python exp1_bridge.py callee 25072 1000 $((S+8)) 16000 "$CODEC" > out3_callee.txt 2>&1 &
P=$!
sleep 1
timeout $((S+20)) nice -n 19 ionice -c3 .venv/bin/python exp3_bridge.py 25072 $S "$DEV" $RATE "$CODEC" > out3_bridge.txt 2>&1
echo "bridge rc=$?"
wait $P; echo "callee rc=$?"
grep -E "^STATS|CLEAN_EXIT|Error|Traceback" out3_bridge.txt | cut -c1-1500
grep ^STATS out3_callee.txt | .venv/bin/python -c "
import json,sys; d=json.loads(sys.stdin.read()[6:]); print('callee heard:', {k:d.get(k) for k in ['rx_rms','rx_peak_hz','rx_peak_energy_share','rx_frame_rms_every10']})"

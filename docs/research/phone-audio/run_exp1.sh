#!/bin/sh
# usage: run_exp1.sh SECONDS [PORT_RATE_CALLEE] [PORT_RATE_CALLER]
cd "$(dirname "$0")"
S=${1:-4}; RA=${2:-16000}; RB=${3:-16000}; CODEC=${4:-}; MISUSE=${5:-}
nice -n 19 ionice -c3 .venv/bin/python exp1_bridge.py callee 25070 1000 $((S+2)) $RA "$CODEC" > out_callee.txt 2>&1 &
P=$!
sleep 1
nice -n 19 ionice -c3 .venv/bin/python exp1_bridge.py caller 25070 700 $S $RB "$CODEC" "$MISUSE" > out_caller.txt 2>&1
echo "caller rc=$?"
wait $P; echo "callee rc=$?"
echo "--- callee (sends 1000 Hz)"; grep -v "^\s*$" out_callee.txt | tail -5
echo "--- caller (sends 700 Hz)"; grep -v "^\s*$" out_caller.txt | tail -5

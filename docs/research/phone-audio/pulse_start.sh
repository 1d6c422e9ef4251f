#!/bin/sh
# A private, clocked virtual sound server for a machine with no sound card (CI): PulseAudio with
# a null sink (playback device, paced by PulseAudio's timer) and a sine source (a fake microphone).
cd "$(dirname "$0")"
export XDG_RUNTIME_DIR=$PWD/pulse_rt HOME=$PWD/alsa_home
nice -n 19 ionice -c3 pulseaudio -n --daemonize=no --exit-idle-time=-1 --use-pid-file=no \
  --disallow-exit --log-target=stderr --log-level=error \
  -L "module-native-protocol-unix socket=$PWD/pulse_rt/native auth-anonymous=1" \
  -L "module-null-sink sink_name=csr_headset_spk rate=16000 channels=1" \
  -L "module-sine-source source_name=csr_headset_mic rate=16000 frequency=440" \
  > pulse.log 2>&1 &
echo $! > pulse.pid

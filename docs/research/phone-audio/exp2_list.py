"""Q2a: what PortAudio (sounddevice) lists on this machine."""
import sounddevice as sd
print("portaudio:", sd.get_portaudio_version())
print("hostapis:", [h["name"] for h in sd.query_hostapis()])
for i, d in enumerate(sd.query_devices()):
    print(i, repr(d["name"]), "in", d["max_input_channels"], "out", d["max_output_channels"], "sr", d["default_samplerate"])

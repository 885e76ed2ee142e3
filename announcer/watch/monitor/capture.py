"""The monitor's capture process: ``python -m announcer.watch.monitor.capture DEVICE RATE BLOCK``.

It runs apart from the daemon so that its PortAudio is its own: it may re-scan devices,
hang or crash without touching the playout stream. It prints one line per block of
input to stdout and nothing else:

    R <device name>                  the input is open
    L <mean square> <peak>           one block (linear, full scale = 1)
    E <message>                      it cannot go on (then it exits non-zero)

It exits when its stdin closes (the daemon is gone) or when the input stops delivering.
For the ALSA ``pulse`` device the daemon chooses the PulseAudio source through the
``PULSE_SOURCE`` environment variable (PortAudio lists only ``pulse`` and ``default``).
"""

import queue
import sys
import threading
import time

STALL = 2.0  # seconds without input blocks: the device is gone


def find_input(sd, name: str) -> int:
    if name == "default":
        index = sd.default.device[0]
        if index is not None and index >= 0:
            return index
    for i, dev in enumerate(sd.query_devices()):
        if dev["max_input_channels"] > 0 and name.lower() in dev["name"].lower():
            return i
    raise RuntimeError(f'no input device matching "{name}"')


def _watch_stdin(done: threading.Event) -> None:
    try:
        while sys.stdin.buffer.read(1024):
            pass
    except (OSError, ValueError):
        pass
    done.set()


def main(argv) -> int:
    name, rate, block = argv[0], int(argv[1]), int(argv[2])
    out = sys.stdout
    done = threading.Event()
    threading.Thread(target=_watch_stdin, args=(done,), daemon=True).start()
    blocks: queue.Queue = queue.Queue(maxsize=1000)
    try:
        import numpy as np
        import sounddevice as sd

        def callback(indata, frames, _time, _status):
            x = indata[:, 0]
            try:
                blocks.put_nowait((float(np.dot(x, x) / max(1, len(x))),
                                   float(np.max(np.abs(x))) if len(x) else 0.0))
            except queue.Full:
                pass

        index = find_input(sd, name)
        stream = sd.InputStream(device=index, samplerate=rate, channels=1, dtype="float32",
                                blocksize=block, callback=callback)
        stream.start()
        out.write(f"R {sd.query_devices(index)['name']}\n")
        out.flush()
    except Exception as exc:
        out.write(f"E {type(exc).__name__}: {exc}".replace("\n", " ") + "\n")
        out.flush()
        return 2
    last = time.monotonic()
    while not done.is_set():
        try:
            power, peak = blocks.get(timeout=0.2)
        except queue.Empty:
            if time.monotonic() - last > STALL:
                out.write("E the input stopped delivering audio\n")
                out.flush()
                return 3
            continue
        last = time.monotonic()
        out.write(f"L {power:.6e} {peak:.6e}\n")
        out.flush()
    return 0


if __name__ == "__main__":
    try:
        code = main(sys.argv[1:])
    except (BrokenPipeError, KeyboardInterrupt):
        code = 1
    try:
        sys.stdout.flush()
    except OSError:
        pass
    # Skip PortAudio's teardown: it can hang when the sound server is gone.
    import os

    os._exit(code)

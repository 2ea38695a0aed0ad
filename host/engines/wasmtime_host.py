"""Runs the WASI build of a tinytrain runtime on one job folder with wasmtime.

    python3 wasmtime_host.py RUNTIME.wasm JOB_DIR MEMORY_BYTES

Uses the PyPI package `wasmtime` (the official engine with its Python embedding). The
store caps linear memory at MEMORY_BYTES, the runtime's planned size, so the module
could not grow its memory even if it tried. The runtime's stdout/stderr pass through.

Exit status: the runtime's (0 ok, 1 bad job), 3 when the wasmtime package is missing,
4 when the memory promise is broken.
"""
import sys

MISSING_PACKAGE = 3
MEMORY_BROKEN = 4


def main(argv):
    wasm_path, job_dir, memory_bytes = argv[1], argv[2], int(argv[3])
    try:
        import wasmtime
    except ImportError as e:
        print(f"wasmtime_host: the Python package wasmtime is missing ({e})", file=sys.stderr)
        return MISSING_PACKAGE

    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    store.set_limits(memory_size=memory_bytes)

    wasi = wasmtime.WasiConfig()
    wasi.argv = ["tinytrain-wasi"]
    wasi.preopen_dir(job_dir, "/job")
    wasi.inherit_stdout()
    wasi.inherit_stderr()
    store.set_wasi(wasi)

    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    module = wasmtime.Module.from_file(engine, wasm_path)
    instance = linker.instantiate(store, module)
    exports = instance.exports(store)

    memory = exports["memory"]
    if memory.data_len(store) != memory_bytes:
        print(f"wasmtime_host: memory is {memory.data_len(store)} B, the plan says {memory_bytes} B", file=sys.stderr)
        return MEMORY_BROKEN
    # Prove the cap holds before trusting a run: growing by one page must be refused.
    try:
        memory.grow(store, 1)
        grew = True
    except wasmtime.WasmtimeError:
        grew = False
    if grew:
        print("wasmtime_host: the runtime memory could grow past its planned size", file=sys.stderr)
        return MEMORY_BROKEN

    try:
        exports["_start"](store)
    except wasmtime.ExitTrap as e:
        return e.code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""bench.core.memory: glibc settings that keep a long run's resident memory flat."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from bench.core import memory

glibc = pytest.mark.skipif(memory._libc() is None, reason="glibc only (malloc_trim / mallopt)")


@glibc
def test_settings_are_applied_once_and_reported():
    """In a child process: a fixed threshold cannot be undone, and would slow the rest of the test session."""
    code = textwrap.dedent("""
        from bench.core import memory
        assert memory.allocator_settings()["mmap_threshold"] is None
        assert memory.configure_allocator(None)["mmap_threshold"] is None  # None: the allocator is left alone
        settings = memory.configure_allocator(1 << 20)
        assert settings == {"allocator": "glibc", "mmap_threshold": 1 << 20, "trim_between_batches": True}
        assert memory.configure_allocator(None)["mmap_threshold"] == 1 << 20
        assert isinstance(memory.release_free_memory(), bool)
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


@glibc
@pytest.mark.parametrize("mode", ["none", "trim", "mmap+trim"])
def test_freed_batch_memory_goes_back_to_the_system(mode):
    """Batches of 2 MB buffers freed while small survivors stay: with ``malloc_trim`` between batches (the
    default) or a fixed mmap threshold as well, the resident size returns to where it started; with
    neither (the control: glibc's dynamic threshold) it stays up."""
    configure, trim = mode == "mmap+trim", mode != "none"
    code = textwrap.dedent(f"""
        import ctypes
        from bench.core import memory
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc.restype = ctypes.c_void_p
        libc.free.argtypes = [ctypes.c_void_p]
        def rss():
            return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
        if {configure}:
            memory.configure_allocator(1 << 20)
        survivors = []
        start = rss()
        for batch in range(20):
            big = []
            for i in range(40):
                p = libc.malloc(2 << 20)
                ctypes.memset(p, 1, 2 << 20)
                big.append(p)
                survivors.append(libc.malloc(512))  # small, long-lived: pins heap pages in between
            for p in big:
                libc.free(p)
            if {trim}:
                memory.release_free_memory()
        print(rss() - start)
    """)
    grown = float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                 text=True).stdout.split()[-1])
    if trim:
        assert grown < 16
    else:
        assert grown > 40  # the control shows the problem the settings remove

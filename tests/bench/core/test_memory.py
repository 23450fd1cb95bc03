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
    settings = memory.configure_allocator(1 << 20)
    assert settings == {"allocator": "glibc", "mmap_threshold": 1 << 20, "trim_between_batches": True}
    assert memory.configure_allocator(None)["mmap_threshold"] == 1 << 20  # None leaves the allocator as it is
    assert isinstance(memory.release_free_memory(), bool)


@glibc
@pytest.mark.parametrize("configure", [False, True])
def test_freed_batch_memory_goes_back_to_the_system(configure):
    """Batches of 2 MB buffers freed while small survivors stay: with the settings the resident size returns
    to where it started; with glibc's dynamic threshold (the control) it stays up."""
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
            if {configure}:
                memory.release_free_memory()
        print(rss() - start)
    """)
    grown = float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                 text=True).stdout.split()[-1])
    if configure:
        assert grown < 16
    else:
        assert grown > 40  # the control shows the problem the settings remove

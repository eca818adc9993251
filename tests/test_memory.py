import numpy as np

from omicsformer.memory import PeakMemory, current_rss


def test_peak_memory_sees_what_the_block_allocated():
    assert current_rss() is not None  # Linux: sampled from /proc
    with PeakMemory() as memory:
        block = np.ones(64 * 2**20 // 8)  # 64 MiB, written so that it is resident
        del block
    assert memory.method == "rss-sampled"
    assert 48 < memory.peak_mb < 1024

"""Unit tier: pure code only. No network, no subprocesses, no cluster; runs in seconds."""

// Benchmarks/payload: see PayloadBench.swift. Top-level code stays trivial (LIBEVENT-NOTES §2).
PayloadBench.main(CommandLine.arguments)

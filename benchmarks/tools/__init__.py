"""Side tools: compose files from the topologies, seeding benchmarks, the stage diff."""

"""The lab's harness: bring stages up as real processes, load-test them, analyse the results."""

"""Training: the one loop, the trainer contract, packs, one deep or baseline run."""

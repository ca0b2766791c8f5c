"""The typed run directory: RunConfig, episode and final results, atomic files, the lock and the evaluation cache."""

"""What acf needs of the machine it runs on: free memory and disk, the GPU monitor, progress output, lazy names."""

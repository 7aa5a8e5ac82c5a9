"""What every platform adapter shares."""

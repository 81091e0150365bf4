"""The sentrail command and the composition of its apps."""

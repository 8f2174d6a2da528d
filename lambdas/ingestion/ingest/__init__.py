"""The ingestion Lambda's code: the v1 contract, payload splitting, conversion, keys, core."""

"""The silver consolidation job, one module per concern (the entry script is
../silver_consolidation_job.py; docs in README, "The consolidation job").

contract  column names and layouts     steps     the pure DataFrame steps
files     Hadoop FileSystem calls       commit    the commit protocol and its recovery
drift     conforming drifting types     bookmarks where new bronze comes from (Glue)
batch     statistics, silver and quarantine rows of a batch
config    arguments and session         run       the stages of one run and its summary
catalog   the job's Glue catalog entries (partitions and columns), a step of the commit
faults    kill points for the fault-injection tests
"""

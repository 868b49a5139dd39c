"""The routeplanner gRPC service: protobuf <-> planner objects, jobs, workers, interceptors.

The server translates requests into the same planner API the CLI calls and runs long solves as
persisted operations; it does nothing clever of its own.
"""

import NIOCore
import NIOPosix

/// Threads for calls that block. NIO's shared pool has one thread per core, so a database query
/// queued there behind the fsync of a large volume waits for the disk. Files and the database
/// each get a pool of their own; CPU work (bcrypt) stays on NIO's.
public enum BlockingPools {
    /// Reads, writes and fsyncs: they wait on the disk, not the CPU, so more threads than cores.
    public static let files = started(threads: 8)
    /// SQLite's calls.
    public static let database = started(threads: max(2, System.coreCount))

    private static func started(threads: Int) -> NIOThreadPool {
        let pool = NIOThreadPool(numberOfThreads: threads)
        pool.start()
        return pool
    }
}

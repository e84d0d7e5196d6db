import DriverKit
import Foundation
import MartletCore

/// Nova's `task_state` (nova/compute/task_states.py): what a server is busy with while the
/// conductor works. Only the values Martlet sets, or that the `status` mapping names, are here;
/// the raw values are the strings stored in `cmp_servers.task_state` and shown as
/// `OS-EXT-STS:task_state`, so they must never change.
enum TaskState: String, Codable, Sendable, CaseIterable {
    case scheduling
    case rebooting, rebootPending = "reboot_pending", rebootStarted = "reboot_started"
    case rebootingHard = "rebooting_hard", rebootPendingHard = "reboot_pending_hard", rebootStartedHard = "reboot_started_hard"
    case pausing, unpausing, suspending, resuming
    case poweringOff = "powering-off", poweringOn = "powering-on"
    case rescuing, unrescuing
    case rebuilding, rebuildBlockDeviceMapping = "rebuild_block_device_mapping", rebuildSpawning = "rebuild_spawning"
    case resizePrep = "resize_prep", resizeMigrating = "resize_migrating", resizeMigrated = "resize_migrated"
    case resizeFinish = "resize_finish", resizeReverting = "resize_reverting", resizeConfirming = "resize_confirming"
    case migrating
    case imageSnapshot = "image_snapshot"
    case shelving, unshelving
    case deleting

    /// A stored value read back: its exact string, or Nova's other spelling of it (`powering_off` for
    /// `powering-off`); nil for a value this version does not know, which then counts as no task
    /// (the server shows settled and an admin can act on it) rather than failing to decode.
    init?(stored: String) {
        if let known = TaskState(rawValue: stored) { self = known; return }
        let respelled = stored.contains("-") ? stored.replacingOccurrences(of: "-", with: "_") : stored.replacingOccurrences(of: "_", with: "-")
        guard let known = TaskState(rawValue: respelled) else { return nil }
        self = known
    }
}

extension KeyedDecodingContainer {
    /// A server document's `taskState` decodes leniently (see `TaskState.init(stored:)`): the synthesized
    /// `Server` decoding calls this overload for its optional `TaskState` field.
    func decodeIfPresent(_ type: TaskState.Type, forKey key: Key) throws -> TaskState? {
        guard let stored = try decodeIfPresent(String.self, forKey: key) else { return nil }
        return TaskState(stored: stored)
    }
}

/// What a client can ask of a server (create, the actions of `POST /servers/{id}/action`, delete
/// and interface attachment), each with its one entry in `ServerLifecycle.transition`.
enum ServerAction: String, CaseIterable, Sendable {
    case create
    case start, stop, rebootSoft, rebootHard, pause, unpause, suspend, resume, rescue, unrescue
    case resize, confirmResize, revertResize, migrate, liveMigrate, evacuate, rebuild
    case createImage, createBackup, shelve, shelveOffload, unshelve, restore
    case delete, forceDelete
    case lock, unlock, resetState, changePassword, triggerCrashDump, attachInterface, attachVolume, detachVolume

    /// The name the instance action records and a refusal quotes ("Cannot 'stop' instance …").
    var name: String {
        switch self {
        case .rebootSoft, .rebootHard: return "reboot"
        case .liveMigrate: return "live-migration"
        case .forceDelete: return "delete"
        case .triggerCrashDump: return "trigger_crash_dump"
        case .attachInterface: return "attach_interface"
        case .attachVolume: return "attach_volume"
        case .detachVolume: return "detach_volume"
        default: return rawValue
        }
    }
}

/// Where an action leaves a server once its work is done. The task state always ends nil.
struct EndState: Sendable, Equatable {
    enum VM: Sendable, Equatable {
        case to(VMState)
        /// Stays as it was (snapshots, locks).
        case unchanged
        /// Back to the state kept in `previousVMState` before the detour (ACTIVE when none was kept).
        case previous
        /// ACTIVE, or SHUTOFF when the server was not running before.
        case activeOrStopped
        /// The state the request names (`os-resetState`).
        case asked
        /// The server is gone.
        case deleted
    }
    enum Power: Sendable, Equatable {
        case to(PowerState)
        case unchanged
        /// Running, or shut down when the server was not running before.
        case runningOrShutdown
    }
    let vm: VM
    let power: Power

    static func to(_ vm: VMState, _ power: PowerState) -> EndState { EndState(vm: .to(vm), power: .to(power)) }
    static let unchanged = EndState(vm: .unchanged, power: .unchanged)
}

/// Which task may be under way when an action starts.
enum TaskCondition: Sendable, Equatable {
    /// None: the server must be idle.
    case idle
    /// None, or one of these (a hard reboot interrupts a soft one).
    case idleOr(Set<TaskState>)
    /// Whatever is under way (locks, delete, a reset).
    case any

    func admits(_ task: TaskState?) -> Bool {
        guard let task else { return true }
        switch self {
        case .idle: return false
        case .idleOr(let allowed): return allowed.contains(task)
        case .any: return true
        }
    }
}

/// One row of the life-cycle table.
struct Transition: Sendable {
    /// The vm_states the action may start from.
    let from: Set<VMState>
    /// The task that may be under way when it starts.
    let during: TaskCondition
    /// The task it sets while the conductor works; nil when the change is made at once.
    let task: TaskState?
    /// Where it ends.
    let end: EndState
}

/// The server life cycle: for each action the states it may start from, the task it sets and the
/// state it ends in. Admission (`ServerAdmission`) asks it whether an action may start; the
/// conductor (`Workflows`) asks it which action a task is and where that action ends.
enum ServerLifecycle {
    static let rebootTasks: Set<TaskState> = [.rebooting, .rebootPending, .rebootStarted]
    static let everyState: Set<VMState> = [.building, .active, .stopped, .paused, .suspended, .rescued, .resized, .shelved,
                                           .shelvedOffloaded, .error, .deleted]
    static let snapshotStates: Set<VMState> = [.active, .stopped, .paused, .suspended]

    static func transition(_ action: ServerAction) -> Transition {
        switch action {
        case .create: return Transition(from: [], during: .idle, task: .scheduling, end: .to(.active, .running))
        case .start: return Transition(from: [.stopped], during: .idle, task: .poweringOn, end: .to(.active, .running))
        case .stop: return Transition(from: [.active, .error, .rescued], during: .idle, task: .poweringOff, end: .to(.stopped, .shutdown))
        case .rebootSoft: return Transition(from: [.active], during: .idle, task: .rebooting, end: .to(.active, .running))
        case .rebootHard:
            return Transition(from: [.active, .stopped, .paused, .suspended, .error], during: .idleOr(rebootTasks), task: .rebootingHard,
                              end: .to(.active, .running))
        case .pause: return Transition(from: [.active], during: .idle, task: .pausing, end: .to(.paused, .paused))
        case .unpause: return Transition(from: [.paused], during: .idle, task: .unpausing, end: .to(.active, .running))
        case .suspend: return Transition(from: [.active], during: .idle, task: .suspending, end: .to(.suspended, .suspended))
        case .resume: return Transition(from: [.suspended], during: .idle, task: .resuming, end: .to(.active, .running))
        case .rescue: return Transition(from: [.active, .stopped, .error], during: .idle, task: .rescuing, end: .to(.rescued, .running))
        case .unrescue: return Transition(from: [.rescued], during: .idle, task: .unrescuing, end: .to(.active, .running))
        case .resize, .migrate:
            return Transition(from: [.active, .stopped], during: .idle, task: .resizePrep,
                              end: EndState(vm: .to(.resized), power: .runningOrShutdown))
        case .confirmResize:
            return Transition(from: [.resized], during: .idle, task: .resizeConfirming, end: EndState(vm: .previous, power: .unchanged))
        case .revertResize:
            return Transition(from: [.resized], during: .idle, task: .resizeReverting, end: EndState(vm: .previous, power: .runningOrShutdown))
        case .liveMigrate:
            return Transition(from: [.active, .paused], during: .idle, task: .migrating, end: EndState(vm: .previous, power: .unchanged))
        case .evacuate:
            return Transition(from: [.active, .stopped, .error], during: .idle, task: .rebuilding,
                              end: EndState(vm: .activeOrStopped, power: .runningOrShutdown))
        case .rebuild:
            return Transition(from: [.active, .stopped, .error], during: .idle, task: .rebuilding,
                              end: EndState(vm: .activeOrStopped, power: .runningOrShutdown))
        case .createImage, .createBackup: return Transition(from: snapshotStates, during: .idle, task: .imageSnapshot, end: .unchanged)
        // Shelving offloads at once (Nova with `shelved_offload_time = 0`).
        case .shelve: return Transition(from: snapshotStates, during: .idle, task: .shelving, end: .to(.shelvedOffloaded, .shutdown))
        case .shelveOffload: return Transition(from: [.shelved, .shelvedOffloaded], during: .any, task: nil, end: .unchanged)
        case .unshelve: return Transition(from: [.shelved, .shelvedOffloaded], during: .idle, task: .unshelving, end: .to(.active, .running))
        // Nothing is ever soft-deleted here, so there is never anything to restore.
        case .restore: return Transition(from: [], during: .idle, task: nil, end: .unchanged)
        case .delete, .forceDelete:
            return Transition(from: everyState, during: .any, task: .deleting, end: EndState(vm: .deleted, power: .to(.noState)))
        case .lock, .unlock: return Transition(from: everyState, during: .any, task: nil, end: .unchanged)
        case .resetState: return Transition(from: everyState, during: .any, task: nil, end: EndState(vm: .asked, power: .unchanged))
        case .changePassword, .triggerCrashDump: return Transition(from: [.active], during: .any, task: nil, end: .unchanged)
        case .attachInterface: return Transition(from: [.active, .paused, .stopped], during: .idle, task: nil, end: .unchanged)
        case .attachVolume, .detachVolume:
            return Transition(from: [.active, .paused, .stopped, .suspended, .resized], during: .idle, task: nil, end: .unchanged)
        }
    }

    /// The 409 for `action` on `server` when the table does not let it start, else nil.
    static func refusal(_ action: ServerAction, _ server: Server) -> APIError? {
        let t = transition(action)
        guard t.from.contains(server.vmState), t.during.admits(server.taskState) else {
            return ComputeFault.invalidState(server, action: action.name)
        }
        return nil
    }

    /// Throws the 409 Nova answers when `action` may not start on `server` now.
    static func check(_ action: ServerAction, _ server: Server) throws {
        if let refusal = refusal(action, server) { throw refusal }
    }

    /// The action whose work a task is, for the conductor; several actions share a task and the
    /// kind of move tells them apart. Nil for a task Martlet never sets.
    static func action(running task: TaskState, moveKind: String?) -> ServerAction? {
        switch task {
        case .resizePrep: return moveKind == "resize" ? .resize : .migrate
        case .rebuilding: return moveKind == "evacuation" ? .evacuate : .rebuild
        case .imageSnapshot: return .createImage
        case .deleting: return .delete
        default: return ServerAction.allCases.first { transition($0).task == task }
        }
    }

    /// Settles `server` where `action` ends: vm_state and power state by the table, no task.
    /// `wasRunning` says whether the server ran before the action (for the ends that depend on it).
    static func settle(_ server: inout Server, after action: ServerAction, wasRunning: Bool, asked: VMState? = nil) {
        let end = transition(action).end
        switch end.vm {
        case .to(let state): server.vmState = state
        case .unchanged: break
        case .previous: server.vmState = server.previousVMState ?? .active
        case .activeOrStopped: server.vmState = wasRunning ? .active : .stopped
        case .asked: if let asked { server.vmState = asked }
        case .deleted: server.vmState = .deleted
        }
        switch end.power {
        case .to(let power): server.powerState = power
        case .unchanged: break
        case .runningOrShutdown: server.powerState = wasRunning ? .running : .shutdown
        }
        server.taskState = nil
    }
}

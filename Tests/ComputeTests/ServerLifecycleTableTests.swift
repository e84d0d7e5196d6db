@testable import Compute
import DriverKit
import Foundation
import MartletCore
import MartletStore
import MartletTestSupport
import Testing

/// The life-cycle table: what admission refuses over real HTTP, and the table's own consistency.
@Suite struct ServerLifecycleTableTests {
    // MARK: The table

    /// A server in `state` with `task`, for settling by hand.
    func server(_ state: VMState, task: TaskState? = nil, previous: VMState? = nil) -> Server {
        Server(id: Identifier.uuid(), projectID: "p", userID: "u", name: "vm", description: nil, hostname: "vm", vmState: state,
               taskState: task, powerState: .running, host: "fake-1", requestedZone: nil, availabilityZone: nil,
               flavor: FlavorSnapshot(id: "42", name: "m1.nano", vcpus: 1, ram: 128, disk: 1, ephemeral: 0, swap: 0, extraSpecs: [:]),
               oldFlavor: nil, imageRef: "", keyName: nil, keyData: nil, userData: nil, metadata: [:], tags: [], securityGroups: [],
               networks: .noNetworks, ownedPorts: [], addresses: [], configDrive: false, locked: false, lockedReason: nil, lockedBy: nil,
               accessIPv4: "", accessIPv6: "", reservationID: "r-1", launchIndex: 0, schedulerHints: [:], createdAt: 0, updatedAt: 0,
               launchedAt: nil, fault: nil, previousVMState: previous, rescueImageRef: nil)
    }

    @Test func everyActionHasAnEndAndEveryTaskItsAction() throws {
        for action in ServerAction.allCases {
            let t = ServerLifecycle.transition(action)
            // Every action ends somewhere definite: settling clears the task and leaves a settled state.
            for start in t.from.isEmpty ? [VMState.building] : Array(t.from) {
                var s = server(start, task: t.task, previous: .stopped)
                ServerLifecycle.settle(&s, after: action, wasRunning: true, asked: .active)
                #expect(s.taskState == nil, "\(action) leaves task \(String(describing: s.taskState))")
                #expect(s.vmState != .building || t.end.vm == .unchanged, "\(action) from \(start) ends building")
            }
            // The conductor finds the action again from the task it set (moves and rebuilds by their kind).
            if let task = t.task {
                let kind: String? = switch action {
                case .resize: "resize"
                case .migrate: "migration"
                case .liveMigrate: "live-migration"
                case .evacuate: "evacuation"
                default: nil
                }
                let found = try #require(ServerLifecycle.action(running: task, moveKind: kind), "\(action)'s task \(task) has no action")
                #expect(ServerLifecycle.transition(found).task == task)
                #expect(ServerLifecycle.transition(found).end == t.end, "\(action) and \(found) share a task but not an end")
            }
            // Only actions the conductor finishes set a task; the rest are made at once.
            #expect((t.task == nil) == [.shelveOffload, .restore, .lock, .unlock, .resetState, .changePassword, .triggerCrashDump,
                                        .attachInterface, .attachVolume, .detachVolume].contains(action), "\(action)")
        }
        // The ends the workflows rely on.
        var s = server(.resized, task: .resizeConfirming, previous: .stopped)
        ServerLifecycle.settle(&s, after: .confirmResize, wasRunning: false)
        #expect(s.vmState == .stopped)
        s = server(.active, task: .rebuilding)
        ServerLifecycle.settle(&s, after: .rebuild, wasRunning: false)
        #expect(s.vmState == .stopped && s.powerState == .shutdown)
        s = server(.active, task: .poweringOff)
        ServerLifecycle.settle(&s, after: .stop, wasRunning: true)
        #expect(s.vmState == .stopped && s.powerState == .shutdown && s.status == "SHUTOFF")
    }

    @Test func admissionFollowsTheTable() {
        #expect(ServerLifecycle.refusal(.unpause, server(.active))?.message.hasSuffix("while it is in vm_state active") == true)
        #expect(ServerLifecycle.refusal(.pause, server(.active)) == nil)
        #expect(ServerLifecycle.refusal(.pause, server(.active, task: .rebooting))?.message.hasSuffix("while it is in task_state rebooting") == true)
        #expect(ServerLifecycle.refusal(.rebootHard, server(.active, task: .rebooting)) == nil, "a hard reboot interrupts a soft one")
        #expect(ServerLifecycle.refusal(.rebootHard, server(.active, task: .pausing)) != nil)
        #expect(ServerLifecycle.refusal(.delete, server(.building, task: .scheduling)) == nil)
        #expect(ServerLifecycle.refusal(.lock, server(.active, task: .imageSnapshot)) == nil)
        #expect(ServerLifecycle.refusal(.restore, server(.active)) != nil)
    }

    @Test func storedTaskStatesDecodeWhateverTheyAre() throws {
        var s = server(.active, task: .poweringOff)
        let doc = try ServerStore.encode(s)
        #expect(doc.contains("\"taskState\":\"powering-off\""), "the stored string stays Nova's")
        #expect(try ServerStore.decode(doc).taskState == .poweringOff)
        #expect(try ServerStore.decode(doc.replacingOccurrences(of: "powering-off", with: "powering_off")).taskState == .poweringOff)
        let unknown = try ServerStore.decode(doc.replacingOccurrences(of: "\"powering-off\"", with: "\"spawning_in_the_future\""))
        #expect(unknown.taskState == nil && unknown.vmState == .active)
        s.taskState = nil
        #expect(try ServerStore.decode(try ServerStore.encode(s)).taskState == nil)
    }

    // MARK: Over HTTP

    func message(_ reply: Reply) -> String { reply["conflictingRequest"]?["message"]?.stringValue ?? "" }

    @Test func actionsTheStateDoesNotAllowAreRefusedWithNovasMessage() async throws {
        let cloud = try await computeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let id = try await c.bootOne(admin)
            await cloud.compute.settle()
            for (body, name) in [(["unpause": .null], "unpause"), (["confirmResize": .null], "confirmResize"),
                                 (["revertResize": .null], "revertResize"), (["os-start": .null], "start"), (["resume": .null], "resume"),
                                 (["unrescue": .null], "unrescue"), (["shelveOffload": .null], "shelveOffload"),
                                 (["unshelve": .null], "unshelve"), (["restore": .null], "restore")] as [(JSON, String)] {
                let reply = try await c.action(admin, id, body)
                #expect(reply.status == .conflict, "\(name): \(reply.status)")
                #expect(message(reply) == "Cannot '\(name)' instance \(id) while it is in vm_state active", "\(message(reply))")
            }
            let server = try #require(try await c.server(admin, id))
            #expect(server["status"] == "ACTIVE" && server["OS-EXT-STS:task_state"] == .null)
            let actions = try await c.call(.get, "/compute/v2.1/servers/\(id)/os-instance-actions", token: admin)["instanceActions"]?.array ?? []
            #expect(actions.map { $0["action"]?.stringValue ?? "" } == ["create"], "a refused action records nothing")

            // Stopped: stop again is refused, start is not.
            #expect(try await c.action(admin, id, ["os-stop": .null]).status == .accepted)
            await cloud.compute.settle()
            let again = try await c.action(admin, id, ["os-stop": .null])
            #expect(again.status == .conflict && message(again) == "Cannot 'stop' instance \(id) while it is in vm_state stopped")
            #expect(try await c.action(admin, id, ["os-start": .null]).status == .accepted)
            await cloud.compute.settle()
            #expect(try await c.server(admin, id)?["status"] == "ACTIVE")
        }
    }

    @Test func anActionWhileAnotherTaskRunsIsRefused() async throws {
        // Spawning takes "forever": the server stays in BUILD with its task.
        let cloud = try await computeCloud { $0.fakeSpawnDelayMS = 600_000 }
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let id = try await c.bootOne(admin)
            let building = try #require(try await c.server(admin, id))
            #expect(building["status"] == "BUILD" && building["OS-EXT-STS:task_state"] == "scheduling")
            for (body, name) in [(["os-stop": .null], "stop"), (["pause": .null], "pause"),
                                 (["reboot": ["type": "HARD"]], "reboot"), (["createImage": ["name": "snap"]], "createImage")] as [(JSON, String)] {
                let reply = try await c.action(admin, id, body)
                #expect(reply.status == .conflict, "\(name): \(reply.status)")
                #expect(message(reply) == "Cannot '\(name)' instance \(id) while it is in task_state scheduling", "\(message(reply))")
            }
            // A lock is no task: it may be taken meanwhile.
            #expect(try await c.action(admin, id, ["lock": .null]).status == .accepted)
        }
    }

    @Test func aHardRebootInterruptsASoftOneAndNothingElseDoes() async throws {
        let cloud = try await computeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let id = try await c.bootOne(admin)
            await cloud.compute.settle()
            // A soft reboot that hangs (as one does when the guest ignores ACPI): its task is left on the row.
            let store = cloud.compute.servers
            try await cloud.database.database.transaction { db in
                var s = try #require(try await store.get(id, in: db))
                s.taskState = .rebooting
                try await store.update(s, in: db)
            }
            #expect(try await c.server(admin, id)?["status"] == "REBOOT")
            for (body, name) in [(["pause": .null], "pause"), (["reboot": ["type": "SOFT"]], "reboot")] as [(JSON, String)] {
                let reply = try await c.action(admin, id, body)
                #expect(reply.status == .conflict && message(reply) == "Cannot '\(name)' instance \(id) while it is in task_state rebooting")
            }
            #expect(try await c.action(admin, id, ["reboot": ["type": "HARD"]]).status == .accepted)
            await cloud.compute.settle()
            let server = try #require(try await c.server(admin, id))
            #expect(server["status"] == "ACTIVE" && server["OS-EXT-STS:task_state"] == .null)
        }
    }
}

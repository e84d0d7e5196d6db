import MartletStore

/// The Network service's tables. Each resource is a JSON document (`doc`, and `private_doc` for the
/// attributes only admins see) with the attributes filters use most copied into indexed columns.
enum NetworkSchema {
    static let migrations: [Migration] = [
        Migration("network-0001", [
            """
            CREATE TABLE net_networks (id TEXT PRIMARY KEY, project_id TEXT NOT NULL, doc TEXT NOT NULL, private_doc TEXT,
              name TEXT, shared TEXT, external TEXT)
            """,
            "CREATE INDEX net_networks_project ON net_networks (project_id)",
            """
            CREATE TABLE net_subnets (id TEXT PRIMARY KEY, project_id TEXT NOT NULL, doc TEXT NOT NULL, private_doc TEXT,
              name TEXT, network_id TEXT NOT NULL, subnetpool_id TEXT, cidr TEXT, ipam_cursor TEXT)
            """,
            "CREATE INDEX net_subnets_project ON net_subnets (project_id)",
            "CREATE INDEX net_subnets_network ON net_subnets (network_id)",
            "CREATE INDEX net_subnets_pool ON net_subnets (subnetpool_id)",
            """
            CREATE TABLE net_ports (id TEXT PRIMARY KEY, project_id TEXT NOT NULL, doc TEXT NOT NULL, private_doc TEXT,
              name TEXT, network_id TEXT NOT NULL, device_id TEXT, device_owner TEXT, mac_address TEXT NOT NULL,
              host_id TEXT, status TEXT)
            """,
            "CREATE INDEX net_ports_project ON net_ports (project_id)",
            "CREATE INDEX net_ports_network ON net_ports (network_id)",
            "CREATE INDEX net_ports_device ON net_ports (device_id)",
            "CREATE INDEX net_ports_host ON net_ports (host_id)",
            // A MAC address names one port on a network.
            "CREATE UNIQUE INDEX net_ports_mac ON net_ports (network_id, mac_address)",
            """
            CREATE TABLE net_routers (id TEXT PRIMARY KEY, project_id TEXT NOT NULL, doc TEXT NOT NULL, private_doc TEXT,
              name TEXT)
            """,
            "CREATE INDEX net_routers_project ON net_routers (project_id)",
            """
            CREATE TABLE net_floatingips (id TEXT PRIMARY KEY, project_id TEXT NOT NULL, doc TEXT NOT NULL, private_doc TEXT,
              floating_network_id TEXT NOT NULL, port_id TEXT, floating_ip_address TEXT, router_id TEXT)
            """,
            "CREATE INDEX net_floatingips_project ON net_floatingips (project_id)",
            "CREATE INDEX net_floatingips_port ON net_floatingips (port_id)",
            "CREATE INDEX net_floatingips_router ON net_floatingips (router_id)",
            """
            CREATE TABLE net_security_groups (id TEXT PRIMARY KEY, project_id TEXT NOT NULL, doc TEXT NOT NULL,
              private_doc TEXT, name TEXT)
            """,
            "CREATE INDEX net_security_groups_project ON net_security_groups (project_id)",
            """
            CREATE TABLE net_security_group_rules (id TEXT PRIMARY KEY, project_id TEXT NOT NULL, doc TEXT NOT NULL,
              private_doc TEXT, security_group_id TEXT NOT NULL, remote_group_id TEXT)
            """,
            "CREATE INDEX net_security_group_rules_project ON net_security_group_rules (project_id)",
            "CREATE INDEX net_security_group_rules_group ON net_security_group_rules (security_group_id)",
            "CREATE INDEX net_security_group_rules_remote ON net_security_group_rules (remote_group_id)",
            """
            CREATE TABLE net_subnetpools (id TEXT PRIMARY KEY, project_id TEXT NOT NULL, doc TEXT NOT NULL, private_doc TEXT,
              name TEXT, shared TEXT)
            """,
            "CREATE INDEX net_subnetpools_project ON net_subnetpools (project_id)",
            """
            CREATE TABLE net_port_forwardings (id TEXT PRIMARY KEY, project_id TEXT NOT NULL, doc TEXT NOT NULL,
              private_doc TEXT, floatingip_id TEXT NOT NULL)
            """,
            "CREATE INDEX net_port_forwardings_fip ON net_port_forwardings (floatingip_id)",
            // IPAM: an address is held by one port; the primary key is the last word on uniqueness.
            """
            CREATE TABLE net_ip_allocations (subnet_id TEXT NOT NULL, ip_address TEXT NOT NULL, port_id TEXT NOT NULL,
              network_id TEXT NOT NULL, PRIMARY KEY (subnet_id, ip_address))
            """,
            "CREATE INDEX net_ip_allocations_port ON net_ip_allocations (port_id)",
            // Segments: a (type, physical network, id) carries one network; '' and 0 stand for none.
            """
            CREATE TABLE net_segments (network_id TEXT PRIMARY KEY, network_type TEXT NOT NULL,
              physical_network TEXT NOT NULL, segmentation_id INTEGER NOT NULL,
              UNIQUE (network_type, physical_network, segmentation_id))
            """,
            "CREATE TABLE net_quotas (project_id TEXT NOT NULL, resource TEXT NOT NULL, hard_limit INTEGER NOT NULL, PRIMARY KEY (project_id, resource))",
            "CREATE TABLE net_default_security_groups (project_id TEXT PRIMARY KEY, security_group_id TEXT NOT NULL)",
        ]),
        Migration("network-0002", [
            // Address scopes, and the pools in each (a scope with pools cannot be deleted).
            """
            CREATE TABLE net_address_scopes (id TEXT PRIMARY KEY, project_id TEXT NOT NULL, doc TEXT NOT NULL, private_doc TEXT,
              name TEXT, shared TEXT, ip_version TEXT)
            """,
            "CREATE INDEX net_address_scopes_project ON net_address_scopes (project_id)",
            "ALTER TABLE net_subnetpools ADD COLUMN address_scope_id TEXT",
            "CREATE INDEX net_subnetpools_scope ON net_subnetpools (address_scope_id)",
            // Metering labels and their rules; a rule keeps its label's project so visibility is one column.
            """
            CREATE TABLE net_metering_labels (id TEXT PRIMARY KEY, project_id TEXT NOT NULL, doc TEXT NOT NULL, private_doc TEXT,
              name TEXT, shared TEXT)
            """,
            "CREATE INDEX net_metering_labels_project ON net_metering_labels (project_id)",
            """
            CREATE TABLE net_metering_label_rules (id TEXT PRIMARY KEY, project_id TEXT NOT NULL, doc TEXT NOT NULL,
              private_doc TEXT, metering_label_id TEXT NOT NULL)
            """,
            "CREATE INDEX net_metering_label_rules_project ON net_metering_label_rules (project_id)",
            "CREATE INDEX net_metering_label_rules_label ON net_metering_label_rules (metering_label_id)",
        ]),
        Migration("network-0003", [
            // The agents the data plane stands for: one of each type per host.
            """
            CREATE TABLE net_agents (id TEXT PRIMARY KEY, doc TEXT NOT NULL, private_doc TEXT, agent_type TEXT NOT NULL,
              host TEXT NOT NULL, UNIQUE (agent_type, host))
            """,
            // Which L3 agent hosts a router and which DHCP agents serve a network (Neutron's scheduler bindings).
            """
            CREATE TABLE net_router_l3_agent_bindings (router_id TEXT NOT NULL, agent_id TEXT NOT NULL,
              PRIMARY KEY (router_id, agent_id))
            """,
            "CREATE INDEX net_router_l3_agent_bindings_agent ON net_router_l3_agent_bindings (agent_id)",
            """
            CREATE TABLE net_network_dhcp_agent_bindings (network_id TEXT NOT NULL, agent_id TEXT NOT NULL,
              PRIMARY KEY (network_id, agent_id))
            """,
            "CREATE INDEX net_network_dhcp_agent_bindings_agent ON net_network_dhcp_agent_bindings (agent_id)",
        ]),
    ]
}

// Groups that change and message edits on one server ($CHAT_URL): the scenarios of
// `groups_scenarios.mjs` with both "nodes" the same server. The two-node run is
// `cluster/groups.mjs`, started by the cluster suite (tests/tests/it/cluster.rs).

import { env } from "./helpers.mjs";
import { groupScenarios } from "./groups_scenarios.mjs";

const BASE = env("CHAT_URL");
groupScenarios(BASE, BASE, "one node,");

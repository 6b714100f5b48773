// Groups that change and message edits on two nodes of a cluster over Redis ($CHAT_URL_A and
// $CHAT_URL_B): users act through node A and listen through both. Not a `*.test.mjs` file, so
// the single-node suite does not pick it up; tests/tests/it/cluster.rs runs it.

import { env } from "../helpers.mjs";
import { groupScenarios } from "../groups_scenarios.mjs";

groupScenarios(env("CHAT_URL_A"), env("CHAT_URL_B"), "two nodes,");

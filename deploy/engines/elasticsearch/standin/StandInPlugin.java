package connect.standin;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.regex.Pattern;

import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.Tokenizer;
import org.apache.lucene.analysis.miscellaneous.LengthFilter;
import org.apache.lucene.analysis.pattern.PatternTokenizer;
import org.apache.lucene.analysis.snowball.SnowballFilter;
import org.apache.lucene.util.SetOnce;
import org.elasticsearch.Build;
import org.elasticsearch.client.internal.node.NodeClient;
import org.elasticsearch.cluster.metadata.IndexNameExpressionResolver;
import org.elasticsearch.cluster.node.DiscoveryNodes;
import org.elasticsearch.cluster.service.ClusterService;
import org.elasticsearch.common.Strings;
import org.elasticsearch.common.io.stream.NamedWriteableRegistry;
import org.elasticsearch.common.regex.Regex;
import org.elasticsearch.common.settings.ClusterSettings;
import org.elasticsearch.common.settings.IndexScopedSettings;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.common.settings.SettingsFilter;
import org.elasticsearch.env.Environment;
import org.elasticsearch.features.NodeFeature;
import org.elasticsearch.index.IndexSettings;
import org.elasticsearch.index.analysis.AbstractTokenFilterFactory;
import org.elasticsearch.index.analysis.AbstractTokenizerFactory;
import org.elasticsearch.index.analysis.TokenFilterFactory;
import org.elasticsearch.index.analysis.TokenizerFactory;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.plugins.ActionPlugin;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.rest.BaseRestHandler;
import org.elasticsearch.rest.RestController;
import org.elasticsearch.rest.RestHandler;
import org.elasticsearch.rest.RestRequest;
import org.elasticsearch.rest.RestResponse;
import org.elasticsearch.rest.RestStatus;
import org.elasticsearch.xcontent.XContentBuilder;

/**
 * Stands in for what Connect calls of the Elasticsearch modules that the distribution ships but
 * Maven Central does not publish, on the test node built from Maven Central jars:
 *
 * <ul>
 *   <li>rest-root: {@code GET /} and {@code HEAD /}, the node's name, cluster and build (the
 *       Python client's {@code info()} and {@code ping()});
 *   <li>analysis-common: the {@code pattern} tokenizer and the {@code length} and {@code snowball}
 *       token filters that the mentor index's settings name
 *       (services/matching/adapters/search_dsl.py), built on the Lucene classes analysis-common
 *       uses and reading the same settings with the same defaults.
 * </ul>
 *
 * Nothing else: the project must use nothing that only this plugin provides, so a component is
 * added here only when the project's own requests name it and a real cluster has it.
 */
public class StandInPlugin extends Plugin implements ActionPlugin, AnalysisPlugin {

    private final SetOnce<ClusterService> clusterService = new SetOnce<>();

    @Override
    public Collection<?> createComponents(PluginServices services) {
        clusterService.set(services.clusterService());
        return List.of();
    }

    @Override
    public Collection<RestHandler> getRestHandlers(Settings settings, NamedWriteableRegistry namedWriteableRegistry,
            RestController restController, ClusterSettings clusterSettings, IndexScopedSettings indexScopedSettings,
            SettingsFilter settingsFilter, IndexNameExpressionResolver indexNameExpressionResolver,
            Supplier<DiscoveryNodes> nodesInCluster, Predicate<NodeFeature> clusterSupportsFeature) {
        return List.of(new RootAction(clusterService::get));
    }

    @Override
    public Map<String, AnalysisProvider<TokenizerFactory>> getTokenizers() {
        return Map.of("pattern", PatternTokenizerFactory::new);
    }

    @Override
    public Map<String, AnalysisProvider<TokenFilterFactory>> getTokenFilters() {
        return Map.of("length", LengthFilterFactory::new, "snowball", SnowballFilterFactory::new);
    }

    /** rest-root's main action: who answers, and which build. */
    static final class RootAction extends BaseRestHandler {

        private final Supplier<ClusterService> clusterService;

        RootAction(Supplier<ClusterService> clusterService) {
            this.clusterService = clusterService;
        }

        @Override
        public String getName() {
            return "main_action";
        }

        @Override
        public List<Route> routes() {
            return List.of(new Route(RestRequest.Method.GET, "/"), new Route(RestRequest.Method.HEAD, "/"));
        }

        @Override
        protected RestChannelConsumer prepareRequest(RestRequest request, NodeClient client) {
            return channel -> {
                ClusterService cluster = clusterService.get();
                Build build = Build.current();
                XContentBuilder body = channel.newBuilder();
                // Pretty unless the request says otherwise, as the module answers.
                if (request.hasParam("pretty") == false) {
                    body.prettyPrint();
                }
                body.startObject()
                        .field("name", cluster.getNodeName())
                        .field("cluster_name", cluster.getClusterName().value())
                        .field("cluster_uuid", cluster.state().metadata().clusterUUID())
                        .startObject("version")
                        .field("number", build.qualifiedVersion())
                        .field("build_flavor", build.flavor())
                        .field("build_type", build.type().displayName())
                        .field("build_hash", build.hash())
                        .field("build_date", build.date())
                        .field("build_snapshot", build.isSnapshot())
                        .field("lucene_version", org.apache.lucene.util.Version.LATEST.toString())
                        .field("minimum_wire_compatibility_version", build.minWireCompatVersion())
                        .field("minimum_index_compatibility_version", build.minIndexCompatVersion())
                        .endObject()
                        .field("tagline", "You Know, for Search")
                        .endObject();
                // For HEAD the HTTP layer sends the status and headers without the body.
                channel.sendResponse(new RestResponse(RestStatus.OK, body));
            };
        }
    }

    /** {@code pattern}: splits on {@code pattern} (default {@code \W+}, Java {@code flags}), or
     * emits capture {@code group} (default -1: split). */
    static final class PatternTokenizerFactory extends AbstractTokenizerFactory {

        private final Pattern pattern;
        private final int group;

        PatternTokenizerFactory(IndexSettings indexSettings, Environment environment, String name, Settings settings) {
            super(indexSettings, settings, name);
            this.pattern = Regex.compile(settings.get("pattern", "\\W+"), settings.get("flags"));
            this.group = settings.getAsInt("group", -1);
        }

        @Override
        public Tokenizer create() {
            return new PatternTokenizer(pattern, group);
        }
    }

    /** {@code length}: keeps tokens of {@code min} (default 0) to {@code max} (default
     * Integer.MAX_VALUE) characters. */
    static final class LengthFilterFactory extends AbstractTokenFilterFactory {

        private final int min;
        private final int max;

        LengthFilterFactory(IndexSettings indexSettings, Environment environment, String name, Settings settings) {
            super(name, settings);
            if (settings.get("enable_position_increments") != null) {
                throw new IllegalArgumentException(
                        "enable_position_increments is not supported anymore. Please fix your analysis chain");
            }
            this.min = settings.getAsInt("min", 0);
            this.max = settings.getAsInt("max", Integer.MAX_VALUE);
        }

        @Override
        public TokenStream create(TokenStream tokenStream) {
            return new LengthFilter(tokenStream, min, max);
        }
    }

    /** {@code snowball}: the Snowball stemmer of {@code language} (default English). */
    static final class SnowballFilterFactory extends AbstractTokenFilterFactory {

        private final String language;

        SnowballFilterFactory(IndexSettings indexSettings, Environment environment, String name, Settings settings) {
            super(name, settings);
            this.language = Strings.capitalize(settings.get("language", settings.get("name", "English")));
        }

        @Override
        public TokenStream create(TokenStream tokenStream) {
            return new SnowballFilter(tokenStream, language);
        }
    }
}

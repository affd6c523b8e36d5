// ConfineRendered: a tenant's `helm template` output, parsed to JSON as
// `helm install` would read it and confined to its environment namespace
// (docs/contract.md, "Rendered charts").
#include "controllers/environment/rendered.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/resource.h"

namespace controllers {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kNs[] = "team-app-pr-1";

absl::StatusOr<std::vector<RenderedObject>> Confine(const std::string& yaml,
                                                    const RenderLimits& limits = {}) {
  return ConfineRendered(yaml, kNs, limits);
}

// The one object a stream yields (a failure if there is not exactly one).
kube::Object Only(const std::string& yaml) {
  auto got = Confine(yaml);
  EXPECT_TRUE(got.ok()) << got.status();
  if (!got.ok() || got->size() != 1) {
    ADD_FAILURE() << "expected one object";
    return kube::Object();
  }
  return (*got)[0].object;
}

// The message of a refusal (a failure if the stream was accepted).
std::string Refusal(const std::string& yaml, const RenderLimits& limits = {}) {
  auto got = Confine(yaml, limits);
  EXPECT_FALSE(got.ok()) << "accepted: " << yaml;
  return got.ok() ? "" : std::string(got.status().message());
}

std::string ConfigMap(absl::string_view data_yaml) {
  return absl::StrCat("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n",
                      data_yaml);
}

// Deployment d whose pod spec ends with pod_spec (YAML at the pod spec's indent).
std::string PodDeployment(absl::string_view pod_spec) {
  return absl::StrCat(
      "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n"
      "spec:\n  template:\n    spec:\n      containers: [{name: c, image: busybox}]\n",
      pod_spec);
}

// What `helm template` prints for a typical chart (the shape of `helm create`
// and of the common charts): "---" and "# Source:" before each document.
constexpr char kChart[] = R"(---
# Source: shop/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: shop-config
  labels:
    app.kubernetes.io/name: shop
    app.kubernetes.io/version: "1.16.0"
    app.kubernetes.io/managed-by: Helm
data:
  PORT: "8080"
  FEATURE_FLAG: "true"
  nginx.conf: |
    server {
      listen 8080;
      location / { proxy_pass http://shop-api:3000; }
    }
  motd: >-
    Welcome to the
    shop.
  empty: ""
---
# Source: shop/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: shop
spec:
  type: ClusterIP
  ports:
    - port: 80
      targetPort: http
      protocol: TCP
      name: http
  selector:
    app.kubernetes.io/name: shop
---
# Source: shop/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  annotations: {}
spec:
  replicas: 2
  revisionHistoryLimit: 3
  selector:
    matchLabels:
      app.kubernetes.io/name: shop
  template:
    metadata:
      labels:
        app.kubernetes.io/name: shop
    spec:
      automountServiceAccountToken: false
      securityContext: {}
      containers:
        - name: shop
          image: "nginx:1.16.0"
          imagePullPolicy: IfNotPresent
          args: ["--port", "8080", --verbose]
          env:
            - name: PORT
              value: "8080"
            - name: TIMEOUT
              value:
          ports:
            - name: http
              containerPort: 8080
              protocol: TCP
          resources:
            limits:
              cpu: 0.5
              memory: 256Mi
          readinessProbe:
            httpGet:
              path: /healthz
              port: http
            initialDelaySeconds: 5
          volumeMounts:
            - name: config
              mountPath: /etc/nginx/conf.d
              readOnly: true
      volumes:
        - name: config
          configMap:
            name: shop-config
            defaultMode: 0644
---
# Source: shop/templates/statefulset.yaml
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: shop-db
  namespace: team-app-pr-1
spec:
  serviceName: shop-db
  replicas: 1
  selector:
    matchLabels: {app.kubernetes.io/name: shop-db}
  template:
    metadata:
      labels: {app.kubernetes.io/name: shop-db}
    spec:
      containers:
        - name: postgres
          image: postgres:16-alpine
          command:
            - sh
            - -c
            - |
              exec docker-entrypoint.sh postgres \
                -c max_connections=50
  volumeClaimTemplates:
    - metadata:
        name: data
      spec:
        accessModes: [ReadWriteOnce]
        resources:
          requests:
            storage: 1Gi
)";

TEST(RenderedYamlTest, RealisticChartParsesWithJsonTypes) {
  auto got = Confine(kChart);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 4u);
  EXPECT_EQ((*got)[0].resource, &kube::resources::kConfigMaps);
  EXPECT_EQ((*got)[1].resource, &kube::resources::kServices);
  EXPECT_EQ((*got)[2].resource, &kube::resources::kDeployments);
  EXPECT_EQ((*got)[3].resource, &kube::resources::kStatefulSets);

  const kube::Object& cm = (*got)[0].object;
  EXPECT_EQ(cm.Str({"data", "PORT"}), "8080") << "a quoted number is a string";
  EXPECT_EQ(cm.Str({"data", "FEATURE_FLAG"}), "true") << "a quoted boolean is a string";
  EXPECT_EQ(cm.Str({"data", "nginx.conf"}),
            "server {\n  listen 8080;\n  location / { proxy_pass http://shop-api:3000; }\n}\n");
  EXPECT_EQ(cm.Str({"data", "motd"}), "Welcome to the shop.");
  ASSERT_NE(cm.Find({"data", "empty"}), nullptr);
  EXPECT_TRUE(cm.Find({"data", "empty"})->IsString());
  EXPECT_EQ(cm.Label("app.kubernetes.io/version"), "1.16.0");

  const kube::Object& deploy = (*got)[2].object;
  ASSERT_NE(deploy.Find({"spec", "replicas"}), nullptr);
  EXPECT_TRUE(deploy.Find({"spec", "replicas"})->IsInt());
  EXPECT_EQ(deploy.Int({"spec", "replicas"}), 2);
  EXPECT_TRUE(deploy.Find({"metadata", "annotations"})->IsObject());
  EXPECT_TRUE(deploy.Find({"metadata", "annotations"})->ObjectEmpty()) << "{} stays an empty map";
  const auto& pod = *deploy.Find({"spec", "template", "spec"});
  ASSERT_TRUE(pod["automountServiceAccountToken"].IsBool());
  EXPECT_FALSE(pod["automountServiceAccountToken"].GetBool());
  const auto& c = pod["containers"][0];
  EXPECT_EQ(std::string(c["args"][1].GetString()), "8080");
  EXPECT_EQ(std::string(c["args"][2].GetString()), "--verbose");
  EXPECT_TRUE(c["env"][0]["value"].IsString());
  EXPECT_TRUE(c["env"][1]["value"].IsNull()) << "an empty value is null";
  EXPECT_TRUE(c["ports"][0]["containerPort"].IsInt());
  EXPECT_EQ(c["ports"][0]["containerPort"].GetInt(), 8080);
  EXPECT_TRUE(c["resources"]["limits"]["cpu"].IsDouble());
  EXPECT_DOUBLE_EQ(c["resources"]["limits"]["cpu"].GetDouble(), 0.5);
  EXPECT_TRUE(c["volumeMounts"][0]["readOnly"].GetBool());
  EXPECT_EQ(pod["volumes"][0]["configMap"]["defaultMode"].GetInt(), 0644)
      << "0644 is octal, as kubectl reads it";

  const kube::Object& sts = (*got)[3].object;
  EXPECT_EQ(sts.Str({"spec", "selector", "matchLabels", "app.kubernetes.io/name"}), "shop-db");
  const auto& cmd = (*sts.Find({"spec", "template", "spec", "containers"}))[0]["command"];
  EXPECT_EQ(std::string(cmd[2].GetString()),
            "exec docker-entrypoint.sh postgres \\\n  -c max_connections=50\n");
  EXPECT_EQ(std::string(sts.Find({"spec", "volumeClaimTemplates"})
                            ->GetArray()[0]["spec"]["accessModes"][0]
                            .GetString()),
            "ReadWriteOnce");
}

TEST(RenderedConfineTest, NamespaceIsFilledInOrKept) {
  auto got = Confine(kChart);
  ASSERT_TRUE(got.ok()) << got.status();
  for (const RenderedObject& o : *got) EXPECT_EQ(o.object.Namespace(), kNs) << o.object.Name();
  EXPECT_EQ(Only(ConfigMap("  a: b\n").append("---\n")).Namespace(), kNs);
  EXPECT_EQ(
      Only("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: ''}\n").Namespace(),
      kNs);
  EXPECT_EQ(
      Only("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: null}\n").Namespace(),
      kNs);
}

TEST(RenderedYamlTest, ScalarsAreTypedAsKubectlTypesThem) {
  const kube::Object o = Only(R"(apiVersion: v1
kind: ConfigMap
metadata: {name: types}
t:
  octal: 0755
  octal12: 0o17
  hex: 0x1F
  negative: -42
  underscores: 1_000
  big: 18446744073709551615
  exp: 1e3
  float: 1.5
  dot: .5
  yes11: yes
  off11: Off
  yes_quoted: "yes"
  tilde: ~
  null_word: null
  str_tag: !!str 42
  int_tag: !!int "42"
  float_tag: !!float 3
  bool_tag: !!bool "true"
  local_tag: !thing 12
  nonspecific: ! 12
  version: 1.10
  time: 2024-01-02
  leading_zero_decimal: 08
  plus: +7
  word: hello world
  colon: "a: b"
  url: http://x:80/y
  single: 'it''s'
  escaped: "tab\there\u00e9"
  8080: key-is-a-number
  true: key-is-a-boolean
)");
  ASSERT_TRUE(o);
  static const rapidjson::Value kMissing("(missing)");
  auto at = [&](const char* k) -> const rapidjson::Value& {
    const rapidjson::Value* v = o.Find({"t", k});
    return v ? *v : kMissing;
  };
  EXPECT_EQ(at("octal").GetInt(), 0755);
  EXPECT_EQ(at("octal12").GetInt(), 017);
  EXPECT_EQ(at("hex").GetInt(), 31);
  EXPECT_EQ(at("negative").GetInt(), -42);
  EXPECT_EQ(at("underscores").GetInt(), 1000);
  ASSERT_TRUE(at("big").IsUint64());
  EXPECT_EQ(at("big").GetUint64(), 18446744073709551615u);
  ASSERT_TRUE(at("exp").IsInt()) << "a whole float is written as an integer, as Go writes it";
  EXPECT_EQ(at("exp").GetInt(), 1000);
  EXPECT_DOUBLE_EQ(at("float").GetDouble(), 1.5);
  EXPECT_DOUBLE_EQ(at("dot").GetDouble(), 0.5);
  EXPECT_TRUE(at("yes11").IsBool() && at("yes11").GetBool());
  EXPECT_TRUE(at("off11").IsBool() && !at("off11").GetBool());
  EXPECT_TRUE(at("yes_quoted").IsString());
  EXPECT_TRUE(at("tilde").IsNull());
  EXPECT_TRUE(at("null_word").IsNull());
  EXPECT_EQ(std::string(at("str_tag").GetString()), "42");
  EXPECT_EQ(at("int_tag").GetInt(), 42);
  EXPECT_EQ(at("float_tag").GetInt(), 3);
  EXPECT_TRUE(at("bool_tag").GetBool());
  EXPECT_EQ(std::string(at("local_tag").GetString()), "12") << "an unknown tag keeps the text";
  EXPECT_EQ(std::string(at("nonspecific").GetString()), "12");
  EXPECT_DOUBLE_EQ(at("version").GetDouble(), 1.1) << "unquoted, a version is a number";
  EXPECT_EQ(std::string(at("time").GetString()), "2024-01-02");
  EXPECT_EQ(at("leading_zero_decimal").GetInt(), 8);
  EXPECT_EQ(at("plus").GetInt(), 7);
  EXPECT_EQ(std::string(at("word").GetString()), "hello world");
  EXPECT_EQ(std::string(at("colon").GetString()), "a: b");
  EXPECT_EQ(std::string(at("url").GetString()), "http://x:80/y");
  EXPECT_EQ(std::string(at("single").GetString()), "it's");
  EXPECT_EQ(std::string(at("escaped").GetString()), "tab\there\xc3\xa9");
  EXPECT_EQ(std::string(at("8080").GetString()), "key-is-a-number");
  EXPECT_EQ(std::string(at("true").GetString()), "key-is-a-boolean");
}

TEST(RenderedYamlTest, EmptyAndNullDocumentsAreSkipped) {
  auto got = Confine(
      absl::StrCat("# a comment before anything\n---\n---\n# Source: c/templates/off.yaml\n",
                   "---\nnull\n---\n~\n...\n---\n", ConfigMap("  a: b\n"), "---\n\n"));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->size(), 1u);
  auto none = Confine("");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());
}

TEST(RenderedYamlTest, ListsAreFlattened) {
  auto got = Confine(R"(apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: one}
  - apiVersion: v1
    kind: Secret
    metadata: {name: two}
    stringData: {k: v}
---
apiVersion: v1
kind: ConfigMapList
items:
  - metadata: {name: three}
---
apiVersion: v1
kind: List
items: []
)");
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 3u);
  EXPECT_EQ((*got)[0].object.Name(), "one");
  EXPECT_EQ((*got)[1].resource, &kube::resources::kSecrets);
  EXPECT_EQ((*got)[2].object.Kind(), "ConfigMap") << "a typed list's items take its kind";
  EXPECT_EQ((*got)[2].object.ApiVersion(), "v1");
  EXPECT_EQ((*got)[2].object.Namespace(), kNs);

  EXPECT_THAT(Refusal("kind: ConfigMapList\nitems: [{metadata: {name: x}}]\n"),
              HasSubstr("items[0]: ConfigMap/x: apiVersion (none)"));
  EXPECT_THAT(
      Refusal("apiVersion: v1\nkind: List\nitems: [{apiVersion: v1, kind: List, items: []}]\n"),
      HasSubstr("a List inside a List"));
}

TEST(RenderedYamlTest, AliasesExpandAndMergeKeysApply) {
  const kube::Object o = Only(R"(apiVersion: v1
kind: ConfigMap
metadata:
  name: anchors
  labels: &labels
    app: shop
    tier: web
  annotations:
    <<: *labels
    tier: overridden
data:
  a: &value "shared"
  b: *value
)");
  ASSERT_TRUE(o);
  EXPECT_EQ(o.Label("tier"), "web");
  EXPECT_EQ(o.Annotation("app"), "shop") << "merged";
  EXPECT_EQ(o.Annotation("tier"), "overridden") << "an explicit key wins over a merged one";
  EXPECT_EQ(o.Str({"data", "b"}), "shared");
}

TEST(RenderedYamlTest, AnAliasBombIsRefused) {
  std::string bomb = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\nx0: &a0 [lol, lol]\n";
  for (int i = 1; i < 40; ++i)
    absl::StrAppend(&bomb, "x", i, ": &a", i, " [*a", i - 1, ", *a", i - 1, "]\n");
  auto got = Confine(bomb);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(got.status().message(), HasSubstr("more than 1000000 values"));

  // One long string repeated: few values, much text.
  std::string text = absl::StrCat("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: t}\ns: &s ",
                                  std::string(100000, 'x'), "\nl: [");
  for (int i = 0; i < 200; ++i) absl::StrAppend(&text, "*s, ");
  text += "*s]\n";
  EXPECT_THAT(Refusal(text), HasSubstr("bytes of text"));
}

TEST(RenderedYamlTest, DeepNestingIsRefused) {
  const std::string deep =
      ConfigMap("  a: b\n") + "x: " + std::string(100, '[') + std::string(100, ']') + "\n";
  EXPECT_THAT(Refusal(deep), HasSubstr("nest deeper than 64"));
}

TEST(RenderedYamlTest, NonFiniteNumbersAreRefusedNamingTheDocument) {
  const std::string two =
      absl::StrCat("---\n# Source: c/templates/a.yaml\n", ConfigMap("  a: b\n"),
                   "---\n# Source: c/templates/hpa.yaml\n",
                   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: n}\n", "ratio: .nan\n");
  EXPECT_THAT(Refusal(two), AllOf(HasSubstr("document 2 (c/templates/hpa.yaml)"),
                                  HasSubstr("line 14"), HasSubstr(".nan"), HasSubstr("finite")));
  EXPECT_THAT(Refusal(ConfigMap("  a: b\n") + "x: -.inf\n"), HasSubstr("finite"));
}

TEST(RenderedYamlTest, InvalidYamlNamesTheDocumentAndItsSource) {
  const std::string bad = absl::StrCat("---\n# Source: c/templates/a.yaml\n", ConfigMap("  a: b\n"),
                                       "---\n# Source: c/templates/broken.yaml\n",
                                       "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [x\n");
  EXPECT_THAT(Refusal(bad), AllOf(HasSubstr("document 2 (c/templates/broken.yaml)"),
                                  HasSubstr("invalid YAML at line")));
}

TEST(RenderedYamlTest, DuplicateAndNonScalarKeysAreRefused) {
  // The API server would read the second hostNetwork, a check the first.
  EXPECT_THAT(Refusal(R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  template:
    spec:
      hostNetwork: false
      hostNetwork: true
)"),
              HasSubstr("duplicate key \"hostNetwork\""));
  EXPECT_THAT(Refusal(ConfigMap("  ? [a, b]\n  : c\n")), HasSubstr("as a mapping key"));
  EXPECT_THAT(Refusal(ConfigMap("  ~: c\n")), HasSubstr("null key"));
  EXPECT_THAT(Refusal(ConfigMap("  a: !!int abc\n")), HasSubstr("is not a !!int"));
  EXPECT_THAT(Refusal(ConfigMap("  a: !!binary aGVsbG8=\n")), HasSubstr("!!binary"));
}

TEST(RenderedYamlTest, ADocumentThatIsNotAMappingIsRefused) {
  EXPECT_THAT(Refusal("- a\n- b\n"), HasSubstr("not a sequence"));
  EXPECT_THAT(Refusal("---\njust text\n"), HasSubstr("not a scalar"));
}

// ---- Confinement ----

TEST(RenderedConfineTest, ClusterScopedAndUnlistedKindsAreRefusedByName) {
  const std::string msg = Refusal(absl::StrCat(
      "---\n# Source: c/templates/rbac.yaml\n",
      "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: admin-all}\n",
      "rules: [{apiGroups: ['*'], resources: ['*'], verbs: ['*']}]\n"));
  EXPECT_THAT(msg, AllOf(HasSubstr("document 1 (c/templates/rbac.yaml)"),
                         HasSubstr("ClusterRole/admin-all"), HasSubstr("cluster-scoped"),
                         HasSubstr("nothing of it is applied")));
  struct Case {
    const char* api_version;
    const char* kind;
    const char* why;
  };
  for (const Case& c :
       {Case{"v1", "Namespace", "cluster-scoped"},
        Case{"apiextensions.k8s.io/v1", "CustomResourceDefinition", "cluster-scoped"},
        Case{"rbac.authorization.k8s.io/v1", "Role", "RBAC is the platform's"},
        Case{"rbac.authorization.k8s.io/v1", "RoleBinding", "RBAC"},
        Case{"networking.k8s.io/v1", "NetworkPolicy", "additive"},
        Case{"networking.k8s.io/v1", "Ingress", "host"}, Case{"apps/v1", "DaemonSet", "every node"},
        Case{"v1", "Pod", "bare pod"},
        Case{"example.com/v1", "Widget", "only ConfigMap, Secret"}}) {
    EXPECT_THAT(Refusal(absl::StrCat("apiVersion: ", c.api_version, "\nkind: ", c.kind,
                                     "\nmetadata: {name: x}\n")),
                AllOf(HasSubstr(absl::StrCat(c.kind, "/x")), HasSubstr(c.why)));
  }
  EXPECT_THAT(
      Refusal("apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata: {name: h}\n"),
      HasSubstr("HorizontalPodAutoscaler/h: apiVersion autoscaling/v1: only autoscaling/v2"));
}

TEST(RenderedConfineTest, AnotherNamespaceIsRefused) {
  EXPECT_THAT(
      Refusal("apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: kube-system}\n"),
      AllOf(HasSubstr("Secret/s"), HasSubstr("metadata.namespace kube-system"), HasSubstr(kNs)));
}

TEST(RenderedConfineTest, OnlyClusterIpServicesAreAccepted) {
  auto service = [](absl::string_view spec) {
    return absl::StrCat("apiVersion: v1\nkind: Service\nmetadata: {name: svc}\nspec:\n", spec);
  };
  EXPECT_TRUE(Only(service("  clusterIP: None\n  ports: [{port: 5432}]\n")));
  EXPECT_THAT(Refusal(service("  type: NodePort\n")),
              AllOf(HasSubstr("Service/svc"), HasSubstr("spec.type NodePort: only ClusterIP")));
  EXPECT_THAT(Refusal(service("  type: LoadBalancer\n")), HasSubstr("only ClusterIP"));
  EXPECT_THAT(Refusal(service("  type: ExternalName\n  externalName: db.example.com\n")),
              HasSubstr("points a name"));
  EXPECT_THAT(Refusal(service("  externalIPs: [1.2.3.4]\n")), HasSubstr("externalIPs"));
}

// yaml-cpp 0.7 reads a stray token at the start (",") as an empty document
// without consuming it, for ever: the stream's documents are bounded.
TEST(RenderedYamlTest, ATokenReadAsEmptyDocumentsForEverIsRefused) {
  for (const char* yaml : {",\n", ",", "]\n"}) {
    auto got = ConfineRendered(yaml, "ns");
    ASSERT_FALSE(got.ok()) << yaml;
    EXPECT_THAT(got.status().code(), ::testing::AnyOf(absl::StatusCode::kResourceExhausted,
                                                      absl::StatusCode::kInvalidArgument))
        << got.status();
  }
  // Many empty documents, as helm prints for templates that render nothing, are fine.
  std::string empties;
  for (int i = 0; i < 600; ++i) empties += "---\n# Source: shop/templates/none.yaml\n";
  EXPECT_TRUE(ConfineRendered(empties, "ns").ok());
}

TEST(RenderedConfineTest, TheOperatorsNamesAreRefused) {
  for (const char* yaml :
       {"apiVersion: v1\nkind: Secret\nmetadata: {name: postgres-credentials}\n",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: catalyst-secrets}\n",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: registry-credentials}\n",
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: postgres-data}\n",
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: default}\n"}) {
    EXPECT_THAT(Refusal(yaml), HasSubstr("the operator's own")) << yaml;
  }
  // The same name for another kind is the chart's; so are the config modes'
  // workload names (the operator makes none in helm or compose mode).
  EXPECT_TRUE(Only("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: postgres-credentials}\n"));
  EXPECT_TRUE(
      Only("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n"
           "  ports: [{port: 80}]\n"));
  EXPECT_THAT(
      Refusal("apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: h}\n"
              "spec: {scaleTargetRef: {apiVersion: v1, kind: PersistentVolumeClaim, "
              "name: postgres-data}}\n"),
      HasSubstr("scaleTargetRef names the operator's PersistentVolumeClaim postgres-data"));
}

TEST(RenderedConfineTest, DuplicatesAndBadNamesAreRefused) {
  const std::string cm = ConfigMap("  a: b\n");
  EXPECT_THAT(Refusal(absl::StrCat(cm, "---\n", cm)),
              HasSubstr("ConfigMap/settings: rendered twice"));
  EXPECT_THAT(Refusal("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name}\n"),
              HasSubstr("DNS-1123 subdomain"));
  EXPECT_THAT(Refusal("apiVersion: v1\nkind: Service\nmetadata: {name: 1svc}\n"),
              HasSubstr("DNS-1035 label"));
  EXPECT_THAT(Refusal("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ../../x}\n"),
              HasSubstr("DNS-1123"));
  EXPECT_THAT(Refusal("apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: x-}\n"),
              HasSubstr("generateName"));
  EXPECT_THAT(Refusal("apiVersion: v1\nkind: ConfigMap\ndata: {}\n"), HasSubstr("no metadata"));
  EXPECT_THAT(
      Refusal("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: f\n  finalizers: [x/y]\n"),
      HasSubstr("finalizers"));
}

TEST(RenderedConfineTest, PodTemplatesOnTheNodeAreRefused) {
  EXPECT_THAT(Refusal(PodDeployment("      volumes:\n        - name: root\n"
                                    "          hostPath: {path: /}\n")),
              AllOf(HasSubstr("Deployment/d"), HasSubstr("spec.template.spec.volumes[0] (root)"),
                    HasSubstr("hostPath")));
  EXPECT_THAT(Refusal(PodDeployment("      hostNetwork: true\n")),
              HasSubstr("spec.template.spec.hostNetwork is set"));
  EXPECT_THAT(Refusal(PodDeployment("      hostIPC: yes\n")), HasSubstr("hostIPC"));
  EXPECT_TRUE(
      Only(PodDeployment("      hostPID: false\n      volumes: [{name: e, emptyDir: {}}]\n")));
  EXPECT_THAT(
      Refusal(
          "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec:\n  schedule: '* * * * "
          "*'\n"
          "  jobTemplate:\n    spec:\n      template:\n        spec:\n          hostPID: true\n"),
      HasSubstr("CronJob/c: spec.jobTemplate.spec.template.spec.hostPID"));
  EXPECT_THAT(
      Refusal("apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: s}\nspec:\n"
              "  volumeClaimTemplates: [{metadata: {name: d}, spec: {volumeName: pv-1}}]\n"),
      HasSubstr("volumeClaimTemplates[0].spec.volumeName"));
}

// Where and before whom pods run is the platform's; a Job the TTL controller
// deletes would be made and run again; hooks helm runs only on delete or
// rollback (the operator does neither) are left out like test hooks.
// docs/contract.md, "Image builds": catalyst.dev/build is what allow-build's
// egress selects and what marks the Jobs the operator prunes as builds.
TEST(RenderedConfineTest, TheBuildLabelIsTheOperators) {
  EXPECT_THAT(
      Refusal("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: j\n  labels: "
              "{catalyst.dev/build: app}\nspec:\n  template:\n    spec:\n      restartPolicy: "
              "Never\n      containers: [{name: c, image: busybox}]\n"),
      HasSubstr("metadata.labels has catalyst.dev/build"));
  EXPECT_THAT(Refusal("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n"
                      "  selector: {matchLabels: {a: b}}\n  template:\n    metadata:\n"
                      "      labels: {a: b, catalyst.dev/build: x}\n    spec:\n"
                      "      containers: [{name: c, image: busybox}]\n"),
              HasSubstr("spec.template.metadata.labels has catalyst.dev/build"));
  EXPECT_THAT(Refusal("apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec:\n"
                      "  schedule: '* * * * *'\n  jobTemplate:\n    spec:\n      template:\n"
                      "        metadata: {labels: {catalyst.dev/build: x}}\n        spec:\n"
                      "          restartPolicy: Never\n"
                      "          containers: [{name: c, image: busybox}]\n"),
              HasSubstr("spec.jobTemplate.spec.template.metadata.labels has catalyst.dev/build"));
}

TEST(RenderedConfineTest, PlatformPodFieldsJobTtlsAndDeleteHooks) {
  EXPECT_THAT(Refusal(PodDeployment("      priorityClassName: system-cluster-critical\n")),
              HasSubstr("spec.template.spec.priorityClassName is set"));
  EXPECT_THAT(Refusal(PodDeployment("      nodeName: control-plane-1\n")), HasSubstr("nodeName"));
  EXPECT_THAT(Refusal(PodDeployment("      runtimeClassName: unsandboxed\n")),
              HasSubstr("runtimeClassName"));
  EXPECT_THAT(Refusal("apiVersion: batch/v1\nkind: Job\nmetadata: {name: migrate}\n"
                      "spec:\n  ttlSecondsAfterFinished: 60\n  template:\n    spec:\n"
                      "      containers: [{name: c, image: busybox}]\n"),
              AllOf(HasSubstr("Job/migrate"), HasSubstr("ttlSecondsAfterFinished")));
  auto got = Confine(absl::StrCat(
      ConfigMap("  a: b\n"),
      "---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: drop-db\n  annotations:\n"
      "    helm.sh/hook: pre-delete\nspec:\n  template:\n    spec:\n"
      "      containers: [{name: c, image: busybox}]\n"));
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 1u) << "the pre-delete hook is not applied";
  EXPECT_EQ((*got)[0].object.Name(), "settings");
}

TEST(RenderedConfineTest, EveryRefusalIsNamedAndNothingIsReturned) {
  const std::string msg = Refusal(absl::StrCat(
      ConfigMap("  a: b\n"), "---\n# Source: c/templates/cr.yaml\n",
      "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: cr}\n",
      "---\n# Source: c/templates/other.yaml\n",
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: o, namespace: other}\n"));
  EXPECT_THAT(msg, AllOf(HasSubstr("document 2 (c/templates/cr.yaml): ClusterRole/cr"),
                         HasSubstr("document 3 (c/templates/other.yaml): ConfigMap/o"),
                         Not(HasSubstr("settings"))));
}

TEST(RenderedConfineTest, LimitsAreEnforced) {
  RenderLimits two;
  two.max_objects = 2;
  const std::string three =
      absl::StrCat("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n",
                   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n---\n",
                   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n");
  auto got = Confine(three, two);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(got.status().message(), HasSubstr("more than 2 objects"));

  RenderLimits small;
  small.max_bytes = 64;
  got = Confine(kChart, small);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(got.status().message(), HasSubstr("more than the 64 allowed"));
}

// `helm create`'s scaffold, rendered by `helm template rel demo` (helm 4.1):
// its test Pod is a hook `helm install` never creates.
TEST(RenderedConfineTest, HelmCreateScaffoldIsAcceptedWithoutItsTestHook) {
  auto got = Confine(R"(---
# Source: demo/templates/serviceaccount.yaml
apiVersion: v1
kind: ServiceAccount
metadata:
  name: rel-demo
  labels:
    helm.sh/chart: demo-0.1.0
    app.kubernetes.io/name: demo
    app.kubernetes.io/instance: rel
    app.kubernetes.io/version: "1.16.0"
    app.kubernetes.io/managed-by: Helm
automountServiceAccountToken: true
---
# Source: demo/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: rel-demo
spec:
  type: ClusterIP
  ports:
    - port: 80
      targetPort: http
      protocol: TCP
      name: http
  selector:
    app.kubernetes.io/name: demo
    app.kubernetes.io/instance: rel
---
# Source: demo/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: rel-demo
spec:
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: demo
      app.kubernetes.io/instance: rel
  template:
    metadata:
      labels:
        app.kubernetes.io/name: demo
        app.kubernetes.io/instance: rel
    spec:
      serviceAccountName: rel-demo
      containers:
        - name: demo
          image: "nginx:1.16.0"
          imagePullPolicy: IfNotPresent
          ports:
            - name: http
              containerPort: 80
              protocol: TCP
          livenessProbe:
            httpGet:
              path: /
              port: http
---
# Source: demo/templates/tests/test-connection.yaml
apiVersion: v1
kind: Pod
metadata:
  name: "rel-demo-test-connection"
  annotations:
    "helm.sh/hook": test
spec:
  containers:
    - name: wget
      image: busybox
      command: ['wget']
      args: ['rel-demo:80']
  restartPolicy: Never
)");
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 3u);
  EXPECT_EQ((*got)[0].resource, &kube::resources::kServiceAccounts);
  EXPECT_TRUE((*got)[0].object.Find({"automountServiceAccountToken"})->GetBool());
  EXPECT_EQ((*(*got)[2].object.Find(
                {"spec", "template", "spec", "containers"}))[0]["ports"][0]["containerPort"]
                .GetInt(),
            80);
}

}  // namespace
}  // namespace controllers

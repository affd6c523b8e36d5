// ConvertCompose: a docker-compose template converted to Deployments and
// Services, which the rendered-chart confinement then accepts.
#include "controllers/environment/compose.h"

#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controllers/environment/rendered.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"

namespace controllers {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

absl::StatusOr<std::string> Convert(const std::string& yaml,
                                    std::map<std::string, std::string> built = {}) {
  ComposeInput in{yaml, "compose.yaml", std::move(built)};
  return ConvertCompose(in);
}

// The objects of a converted file, confined as a rendered chart is.
std::vector<kube::Object> Confined(const absl::StatusOr<std::string>& out) {
  EXPECT_TRUE(out.ok()) << out.status();
  if (!out.ok()) return {};
  auto confined = ConfineRendered(*out, "ns");
  EXPECT_TRUE(confined.ok()) << confined.status() << "\n" << *out;
  if (!confined.ok()) return {};
  std::vector<kube::Object> objects;
  for (const RenderedObject& o : *confined) objects.push_back(o.object);
  return objects;
}

std::vector<kube::Object> Objects(const std::string& yaml,
                                  std::map<std::string, std::string> built = {}) {
  absl::StatusOr<std::string> out = Convert(yaml, std::move(built));
  EXPECT_TRUE(out.ok()) << out.status();
  if (!out.ok()) return {};
  auto confined = ConfineRendered(*out, "ns");
  EXPECT_TRUE(confined.ok()) << confined.status() << "\n" << *out;
  if (!confined.ok()) return {};
  std::vector<kube::Object> objects;
  for (const RenderedObject& o : *confined) objects.push_back(o.object);
  return objects;
}

// The one Deployment of a single-service file.
kube::Object OnlyDeployment(const std::string& yaml,
                            std::map<std::string, std::string> built = {}) {
  std::vector<kube::Object> objects = Objects(yaml, std::move(built));
  for (const kube::Object& o : objects)
    if (o.Kind() == "Deployment") return o;
  ADD_FAILURE() << "no Deployment";
  return kube::Object();
}

// A copy: the callers pass Deployments that are temporaries.
kube::Object Container(const kube::Object& d) {
  const rapidjson::Value* c = d.Find({"spec", "template", "spec", "containers"});
  if (!c || !c->IsArray() || c->Empty()) return kube::Object::Copy(rapidjson::Value());
  return kube::Object::Copy((*c)[0]);
}

std::string Str(const rapidjson::Value& v, std::initializer_list<const char*> path) {
  const rapidjson::Value* at = &v;
  for (const char* k : path) {
    if (!at->IsObject() || !at->HasMember(k)) return "";
    at = &(*at)[k];
  }
  return at->IsString() ? at->GetString() : "";
}

std::vector<std::string> Strings(const rapidjson::Value& v, const char* key) {
  std::vector<std::string> out;
  if (!v.IsObject() || !v.HasMember(key) || !v[key].IsArray()) return out;
  for (const auto& s : v[key].GetArray()) out.push_back(s.IsString() ? s.GetString() : "?");
  return out;
}

std::string Str(const kube::Object& o, std::initializer_list<const char*> path) {
  return Str(o.json(), path);
}

// The message of a refusal (a failure if the file was accepted).
std::string Refusal(const std::string& yaml, std::map<std::string, std::string> built = {}) {
  absl::StatusOr<std::string> out = Convert(yaml, std::move(built));
  EXPECT_FALSE(out.ok()) << "accepted: " << yaml << "\n" << (out.ok() ? *out : "");
  return out.ok() ? "" : std::string(out.status().message());
}

std::string OneService(absl::string_view body) {
  return absl::StrCat("services:\n  app:\n    image: busybox\n", body);
}

constexpr char kWebAndDb[] = R"(
name: shop
services:
  app:
    image: ghcr.io/acme/shop:1.2
    ports: ["8080:3000"]
    environment:
      DATABASE_URL: postgres://shop:secret@db:5432/shop
      WORKERS: 4
    depends_on: [db]
    restart: unless-stopped
  db:
    image: postgres:16
    environment:
      - POSTGRES_USER=shop
      - POSTGRES_PASSWORD=secret
    volumes:
      - pgdata:/var/lib/postgresql/data
    ports:
      - "5432"
volumes:
  pgdata: {}
)";

TEST(ComposeTest, WebAndDatabaseBecomeTwoDeploymentsAndServicesTheConfinementAccepts) {
  std::vector<kube::Object> objects = Objects(kWebAndDb);
  ASSERT_EQ(objects.size(), 4u);
  EXPECT_EQ(objects[0].Kind(), "Deployment");
  EXPECT_EQ(objects[0].Name(), "app");
  EXPECT_EQ(objects[1].Kind(), "Service");
  EXPECT_EQ(objects[1].Name(), "app");
  EXPECT_EQ(objects[2].Kind(), "Deployment");
  EXPECT_EQ(objects[2].Name(), "db");
  EXPECT_EQ(objects[3].Kind(), "Service");
  EXPECT_EQ(objects[3].Namespace(), "ns");

  const kube::Object& app = objects[0];
  EXPECT_EQ(app.Int({"spec", "replicas"}), 1);
  EXPECT_EQ(app.Str({"spec", "selector", "matchLabels", "app.kubernetes.io/name"}), "app");
  EXPECT_EQ(app.Str({"spec", "template", "metadata", "labels", "app.kubernetes.io/name"}), "app");
  EXPECT_EQ(app.Str({"spec", "strategy", "type"}), "Recreate");
  const rapidjson::Value* links = app.Find({"spec", "template", "spec", "enableServiceLinks"});
  ASSERT_NE(links, nullptr);
  EXPECT_TRUE(links->IsBool() && !links->GetBool());
  const kube::Object c_owner = Container(app);
  const rapidjson::Value& c = c_owner.json();
  EXPECT_EQ(Str(c, {"name"}), "app");
  EXPECT_EQ(Str(c, {"image"}), "ghcr.io/acme/shop:1.2");
  ASSERT_TRUE(c["securityContext"]["allowPrivilegeEscalation"].IsFalse());
  ASSERT_EQ(c["ports"].Size(), 1u);
  EXPECT_EQ(c["ports"][0]["containerPort"].GetInt(), 3000);
  ASSERT_EQ(c["env"].Size(), 2u);
  EXPECT_EQ(Str(c["env"][0], {"name"}), "DATABASE_URL");
  EXPECT_EQ(Str(c["env"][0], {"value"}), "postgres://shop:secret@db:5432/shop");
  EXPECT_EQ(Str(c["env"][1], {"value"}), "4");  // numbers as written, as strings
  // The namespace's quota counts these: set by default.
  EXPECT_EQ(Str(c, {"resources", "requests", "cpu"}), "100m");
  EXPECT_EQ(Str(c, {"resources", "requests", "memory"}), "512Mi");
  EXPECT_EQ(Str(c, {"resources", "limits", "memory"}), "512Mi");

  // Headless, on the container's port: "8080:3000" is reached at app:3000.
  const kube::Object& app_svc = objects[1];
  EXPECT_EQ(app_svc.Str({"spec", "clusterIP"}), "None");
  EXPECT_EQ(app_svc.Str({"spec", "selector", "app.kubernetes.io/name"}), "app");
  const rapidjson::Value& port = (*app_svc.Find({"spec", "ports"}))[0];
  EXPECT_EQ(Str(port, {"name"}), "p3000");
  EXPECT_EQ(port["port"].GetInt(), 3000);
  EXPECT_EQ(port["targetPort"].GetInt(), 3000);
  EXPECT_EQ(Str(port, {"protocol"}), "TCP");

  const kube::Object& db = objects[2];
  const kube::Object dbc_owner = Container(db);
  const rapidjson::Value& dbc = dbc_owner.json();
  EXPECT_EQ(Str(dbc["env"][1], {"name"}), "POSTGRES_PASSWORD");
  EXPECT_EQ(Str(dbc["env"][1], {"value"}), "secret");
  ASSERT_EQ(dbc["volumeMounts"].Size(), 1u);
  EXPECT_EQ(Str(dbc["volumeMounts"][0], {"mountPath"}), "/var/lib/postgresql/data");
  const rapidjson::Value* vols = db.Find({"spec", "template", "spec", "volumes"});
  ASSERT_NE(vols, nullptr);
  ASSERT_EQ(vols->Size(), 1u);
  EXPECT_TRUE((*vols)[0]["emptyDir"].IsObject());
  EXPECT_EQ(Str((*vols)[0], {"name"}), Str(dbc["volumeMounts"][0], {"name"}));
  EXPECT_EQ(Str((*objects[3].Find({"spec", "ports"}))[0], {"name"}), "p5432");
}

TEST(ComposeTest, ServiceWithoutPortsStillResolvesByAHeadlessServiceWithoutPorts) {
  std::vector<kube::Object> objects = Objects(OneService(""));
  ASSERT_EQ(objects.size(), 2u);
  EXPECT_EQ(objects[0].Kind(), "Deployment");
  EXPECT_EQ(objects[1].Kind(), "Service");
  EXPECT_EQ(objects[1].Name(), "app");
  EXPECT_EQ(objects[1].Str({"spec", "clusterIP"}), "None");
  EXPECT_EQ(objects[1].Str({"spec", "selector", "app.kubernetes.io/name"}), "app");
  EXPECT_EQ(objects[1].Find({"spec", "ports"}), nullptr);
}

TEST(ComposeTest, BuildWithoutImageRunsTheTemplatesBuiltImage) {
  kube::Object d = OnlyDeployment("services:\n  api_server:\n    build: ./api\n",
                                  {{"api-server", "registry/app@sha256:abc"}});
  EXPECT_EQ(d.Name(), "api-server");
  EXPECT_EQ(Str(Container(d), {"image"}), "registry/app@sha256:abc");
  // The built image wins over `image:` (compose builds and tags it so).
  d = OnlyDeployment("services:\n  api:\n    build: {context: .}\n    image: api:dev\n",
                     {{"api", "registry/app@sha256:def"}});
  EXPECT_EQ(Str(Container(d), {"image"}), "registry/app@sha256:def");
}

TEST(ComposeTest, BuildWithoutABuiltImageOrImageIsRefused) {
  EXPECT_THAT(
      Refusal("services:\n  web:\n    build: .\n"),
      AllOf(HasSubstr("service \"web\""), HasSubstr("build"), HasSubstr("no build named web")));
  EXPECT_THAT(Refusal("services:\n  web:\n    command: [x]\n"),
              AllOf(HasSubstr("service \"web\""), HasSubstr("neither image: nor build:")));
}

TEST(ComposeTest, MergeKeysApplyExplicitKeysWinning) {
  const std::string yaml = R"(
x-common: &common
  image: busybox
  environment: {A: from-common, B: common}
x-more: &more
  working_dir: /srv
  image: ignored
services:
  one:
    <<: [*common, *more]
    environment: {A: own}
  two:
    <<: *common
)";
  std::vector<kube::Object> objects = Objects(yaml);
  ASSERT_EQ(objects.size(), 4u);  // each a Deployment and a Service
  const kube::Object one_owner = Container(objects[0]);
  const rapidjson::Value& one = one_owner.json();
  EXPECT_EQ(Str(one, {"image"}), "busybox");  // the earlier merge wins
  EXPECT_EQ(Str(one, {"workingDir"}), "/srv");
  ASSERT_EQ(one["env"].Size(), 1u);
  EXPECT_EQ(Str(one["env"][0], {"value"}), "own");
  const kube::Object two_owner = Container(objects[2]);
  const rapidjson::Value& two = two_owner.json();
  EXPECT_EQ(Str(two, {"image"}), "busybox");
  EXPECT_EQ(two["env"].Size(), 2u);
}

TEST(ComposeTest, RefusalsNameTheServiceAndTheKey) {
  struct Case {
    std::string body, key;
  };
  const Case cases[] = {
      {"    volumes: [\"./data:/data\"]\n", "volumes[0]"},
      {"    volumes: [\"/etc:/host-etc:ro\"]\n", "bind mount"},
      {"    volumes: [{type: bind, source: ., target: /src}]\n", "bind mount"},
      {"    privileged: true\n", "privileged"},
      {"    network_mode: host\n", "network_mode"},
      {"    pid: host\n", "pid"},
      {"    cap_add: [NET_ADMIN]\n", "cap_add"},
      {"    env_file: .env\n", "env_file"},
      {"    secrets: [token]\n", "secrets"},
      {"    frobnicate: yes\n", "frobnicate"},
      {"    user: postgres\n", "user"},
      {"    ulimits: {nofile: 1024}\n", "ulimits"},
      {"    environment: [FROM_HOST]\n", "FROM_HOST"},
      {"    environment: {FROM_HOST: }\n", "FROM_HOST"},
      {"    links: [\"db:database\"]\n", "links"},  // db is no service of the file
      {"    volumes: [\"undeclared:/x\"]\n", "not declared"},
      {"    deploy: {mode: global}\n", "deploy.mode"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body);
    // The caller names the file: the message does not repeat it.
    EXPECT_THAT(
        Refusal(OneService(c.body)),
        AllOf(StartsWith("service \"app\""), Not(HasSubstr("compose.yaml")), HasSubstr(c.key)));
  }
}

TEST(ComposeTest, ServiceNamesMustBecomeDnsLabels) {
  EXPECT_THAT(Refusal("services:\n  \"1st\":\n    image: x\n"),
              AllOf(HasSubstr("service \"1st\""), HasSubstr("DNS-1035")));
  EXPECT_THAT(Refusal("services:\n  \"web.app\":\n    image: x\n"), HasSubstr("DNS-1035"));
  EXPECT_THAT(Refusal("services:\n  my_db:\n    image: x\n  my-db:\n    image: y\n"),
              AllOf(HasSubstr("my-db"), HasSubstr("service \"my_db\"'s too")));
  EXPECT_EQ(OnlyDeployment("services:\n  My_Cache:\n    image: redis\n").Name(), "my-cache");
}

TEST(ComposeTest, TopLevelKeysOutsideTheSubsetAreRefused) {
  EXPECT_THAT(Refusal("include: [other.yaml]\nservices:\n  a:\n    image: x\n"),
              HasSubstr("include"));
  EXPECT_THAT(Refusal("servics:\n  a:\n    image: x\n"), HasSubstr("servics"));
  EXPECT_THAT(Refusal("version: '3'\n"), HasSubstr("services"));
  EXPECT_THAT(Refusal("- a\n"), HasSubstr("mapping"));
}

TEST(ComposeTest, PortsShortAndLongSyntax) {
  std::vector<kube::Object> objects = Objects(OneService(R"(    ports:
      - 80
      - "8443:443"
      - "127.0.0.1:5353:53/udp"
      - "[::1]:9000:9001"
      - "127.0.0.1::7000"
      - {target: 6000, published: "6001", protocol: tcp, mode: host}
      - {target: 6000}
    expose: ["3000", 4000]
)"));
  ASSERT_EQ(objects.size(), 2u);
  const kube::Object c_owner = Container(objects[0]);
  const rapidjson::Value& c = c_owner.json();
  std::vector<std::string> container_ports;
  for (const auto& p : c["ports"].GetArray())
    container_ports.push_back(absl::StrCat(p["containerPort"].GetInt(), "/", Str(p, {"protocol"})));
  EXPECT_THAT(container_ports, ElementsAre("80/TCP", "443/TCP", "53/UDP", "9001/TCP", "7000/TCP",
                                           "6000/TCP", "3000/TCP", "4000/TCP"));
  // The Service's ports are the container's (published ports are the host's).
  std::vector<std::string> service_ports;
  for (const auto& p : objects[1].Find({"spec", "ports"})->GetArray())
    service_ports.push_back(
        absl::StrCat(Str(p, {"name"}), " ", p["port"].GetInt(), "->", p["targetPort"].GetInt()));
  EXPECT_THAT(service_ports, ElementsAre("p80 80->80", "p443 443->443", "p53-udp 53->53",
                                         "p9001 9001->9001", "p7000 7000->7000", "p6000 6000->6000",
                                         "p3000 3000->3000", "p4000 4000->4000"));

  EXPECT_THAT(Refusal(OneService("    ports: [\"3000-3005:3000-3005\"]\n")),
              AllOf(HasSubstr("ports[0]"), HasSubstr("ranges")));
  EXPECT_THAT(Refusal(OneService("    ports: [\"70000\"]\n")), HasSubstr("not a port"));
  EXPECT_THAT(Refusal(OneService("    ports: [\"80/icmp\"]\n")), HasSubstr("icmp"));
  EXPECT_THAT(Refusal(OneService("    ports: [{published: 80}]\n")), HasSubstr("no target"));
  // One host port for two container ports means nothing in the namespace.
  EXPECT_TRUE(Convert(OneService("    ports: [\"8080:80\", \"8080:81\"]\n")).ok());
}

TEST(ComposeTest, MemoryAndCpuBecomeQuantities) {
  const kube::Object a_owner =
      Container(OnlyDeployment(OneService("    cpus: \"0.5\"\n    mem_limit: 1g\n")));
  const rapidjson::Value& a = a_owner.json();
  EXPECT_EQ(Str(a, {"resources", "limits", "cpu"}), "500m");
  EXPECT_EQ(Str(a, {"resources", "requests", "cpu"}), "100m");
  EXPECT_EQ(Str(a, {"resources", "limits", "memory"}), "1Gi");
  EXPECT_EQ(Str(a, {"resources", "requests", "memory"}), "1Gi");

  const kube::Object b_owner = Container(OnlyDeployment(OneService(R"(    deploy:
      replicas: 2
      resources:
        limits: {cpus: 2, memory: 1.5gb}
        reservations: {cpus: '0.25', memory: 256M}
)")));
  const rapidjson::Value& b = b_owner.json();
  EXPECT_EQ(Str(b, {"resources", "limits", "cpu"}), "2");
  EXPECT_EQ(Str(b, {"resources", "requests", "cpu"}), "250m");
  EXPECT_EQ(Str(b, {"resources", "limits", "memory"}), "1536Mi");
  EXPECT_EQ(Str(b, {"resources", "requests", "memory"}), "256Mi");

  // A CPU limit below the default request lowers it; bytes round up to Mi.
  const kube::Object c_owner =
      Container(OnlyDeployment(OneService("    cpus: 0.05\n    mem_limit: 1000000\n")));
  const rapidjson::Value& c = c_owner.json();
  EXPECT_EQ(Str(c, {"resources", "requests", "cpu"}), "50m");
  EXPECT_EQ(Str(c, {"resources", "limits", "memory"}), "1Mi");
  // A reservation alone: the limit is the default or the reservation, the larger.
  const kube::Object d_owner = Container(OnlyDeployment(OneService("    mem_reservation: 2GiB\n")));
  const rapidjson::Value& d = d_owner.json();
  EXPECT_EQ(Str(d, {"resources", "limits", "memory"}), "2Gi");

  EXPECT_EQ(OnlyDeployment(OneService("    scale: 3\n")).Int({"spec", "replicas"}), 3);
  EXPECT_THAT(Refusal(OneService("    mem_limit: lots\n")),
              AllOf(HasSubstr("mem_limit"), HasSubstr("not a size")));
  EXPECT_THAT(Refusal(OneService("    cpus: -1\n")), HasSubstr("cpus"));
  EXPECT_THAT(Refusal(OneService("    deploy: {replicas: 11}\n")), HasSubstr("deploy.replicas"));
  EXPECT_THAT(Refusal(OneService("    mem_limit: 1g\n    mem_reservation: 2g\n")),
              HasSubstr("more than the limit"));
  EXPECT_THAT(Refusal(OneService("    mem_limit: 1g\n    deploy: {resources: {limits: {memory: "
                                 "2g}}}\n")),
              HasSubstr("differs"));
}

TEST(ComposeTest, StringCommandsAreSplitIntoWordsWithoutAShell) {
  const kube::Object c_owner =
      Container(OnlyDeployment(OneService("    entrypoint: /docker-entrypoint.sh\n"
                                          "    command: postgres -c 'shared_buffers=256MB' -c "
                                          "\"max_connections=\\\"200\\\"\" a\\ b\n")));
  const rapidjson::Value& c = c_owner.json();
  EXPECT_THAT(Strings(c, "command"), ElementsAre("/docker-entrypoint.sh"));
  EXPECT_THAT(Strings(c, "args"), ElementsAre("postgres", "-c", "shared_buffers=256MB", "-c",
                                              "max_connections=\"200\"", "a b"));
  const kube::Object list_owner =
      Container(OnlyDeployment(OneService("    command: [\"sh\", \"-c\", \"a | b && c\"]\n")));
  const rapidjson::Value& list = list_owner.json();
  EXPECT_THAT(Strings(list, "args"), ElementsAre("sh", "-c", "a | b && c"));
  EXPECT_THAT(Refusal(OneService("    command: echo a | grep a\n")),
              AllOf(HasSubstr("command"), HasSubstr("`|`")));
  EXPECT_THAT(Refusal(OneService("    command: echo 'unclosed\n")), HasSubstr("unclosed"));
}

TEST(ComposeTest, InterpolationTakesDefaultsAndRefusesHostVariables) {
  const kube::Object c_owner =
      Container(OnlyDeployment(OneService("    environment:\n"
                                          "      A: ${PASSWORD:-postgres}\n"
                                          "      B: cost $$5\n"
                                          "      C: ${OUTER:-${INNER-x}y}\n"
                                          "      D: a${SET:+b}c\n")));
  const rapidjson::Value& c = c_owner.json();
  ASSERT_EQ(c["env"].Size(), 4u);
  EXPECT_EQ(Str(c["env"][0], {"value"}), "postgres");
  EXPECT_EQ(Str(c["env"][1], {"value"}), "cost $$5");  // $5 once Kubernetes reads $$
  EXPECT_EQ(Str(c["env"][2], {"value"}), "xy");
  EXPECT_EQ(Str(c["env"][3], {"value"}), "ac");
  EXPECT_THAT(
      Refusal(OneService("    environment: {A: \"${PASSWORD}\"}\n")),
      AllOf(HasSubstr("environment.A"), HasSubstr("${PASSWORD}"), HasSubstr("host's environment")));
  EXPECT_THAT(Refusal(OneService("    environment: [A=$HOME]\n")), HasSubstr("$HOME"));
  EXPECT_THAT(Refusal(OneService("    environment: {A: \"${X:?required}\"}\n")), HasSubstr("${X}"));
  EXPECT_THAT(Refusal(OneService("    environment: {A: \"5 $\"}\n")), HasSubstr("lone $"));
}

TEST(ComposeTest, VolumesBecomeEmptyDirectories) {
  const std::string yaml = R"(services:
  app:
    image: x
    volumes:
      - data:/data:ro
      - /scratch
      - {type: tmpfs, target: /run, tmpfs: {size: 64m}}
      - {type: volume, source: data, target: /more, volume: {subpath: sub}}
    tmpfs: /tmp
    shm_size: 256m
volumes:
  data:
)";
  kube::Object d = OnlyDeployment(yaml);
  const kube::Object c_owner = Container(d);
  const rapidjson::Value& c = c_owner.json();
  std::vector<std::string> mounts;
  for (const auto& m : c["volumeMounts"].GetArray())
    mounts.push_back(absl::StrCat(Str(m, {"name"}), " ", Str(m, {"mountPath"}),
                                  m.HasMember("readOnly") ? " ro" : "",
                                  m.HasMember("subPath") ? " sub" : ""));
  EXPECT_THAT(mounts, ElementsAre("vol-0 /data ro", "vol-1 /scratch", "tmp-2 /run",
                                  "vol-0 /more sub", "tmp-3 /tmp", "dshm /dev/shm"));
  const rapidjson::Value& vols = *d.Find({"spec", "template", "spec", "volumes"});
  ASSERT_EQ(vols.Size(), 5u);
  EXPECT_EQ(Str(vols[2], {"emptyDir", "medium"}), "Memory");
  EXPECT_EQ(Str(vols[2], {"emptyDir", "sizeLimit"}), "64Mi");
  EXPECT_EQ(Str(vols[4], {"emptyDir", "sizeLimit"}), "256Mi");

  // Two services' pods cannot share an empty directory.
  EXPECT_THAT(Refusal("services:\n  a:\n    image: x\n    volumes: [\"v:/a\"]\n  b:\n    image: y\n"
                      "    volumes: [\"v:/b\"]\nvolumes: {v: {}}\n"),
              AllOf(HasSubstr("service \"b\""), HasSubstr("also mounted by service a")));
  EXPECT_THAT(Refusal("services:\n  a:\n    image: x\n    volumes: [\"v:/a\"]\n"
                      "volumes: {v: {external: true}}\n"),
              HasSubstr("external"));
}

TEST(ComposeTest, SecurityAndProcessSettingsAreConverted) {
  kube::Object d = OnlyDeployment(OneService(R"(    user: "999:999"
    read_only: true
    cap_drop: [ALL, CAP_NET_RAW]
    privileged: false
    tty: true
    stop_grace_period: 1m30s
    hostname: cache
    working_dir: /app
    container_name: ignored
    healthcheck: {test: [CMD, true]}
    profiles: []
    x-note: anything
)"));
  const kube::Object c_owner = Container(d);
  const rapidjson::Value& c = c_owner.json();
  EXPECT_EQ(c["securityContext"]["runAsUser"].GetInt(), 999);
  EXPECT_EQ(c["securityContext"]["runAsGroup"].GetInt(), 999);
  EXPECT_TRUE(c["securityContext"]["readOnlyRootFilesystem"].IsTrue());
  EXPECT_THAT(Strings(c["securityContext"]["capabilities"], "drop"), ElementsAre("ALL", "NET_RAW"));
  EXPECT_TRUE(c["tty"].IsTrue());
  EXPECT_EQ(d.Int({"spec", "template", "spec", "terminationGracePeriodSeconds"}), 90);
  EXPECT_EQ(d.Str({"spec", "template", "spec", "hostname"}), "cache");
}

TEST(ComposeTest, ServicesWithProfilesAreNotStarted) {
  std::vector<kube::Object> objects =
      Objects("services:\n  app:\n    image: x\n  debug:\n    image: y\n    profiles: [dev]\n");
  ASSERT_EQ(objects.size(), 2u);  // app's Deployment and Service
  EXPECT_EQ(objects[0].Name(), "app");
}

TEST(ComposeTest, DuplicateKeysAndSeveralDocumentsAreRefused) {
  EXPECT_THAT(Refusal("services:\n  a:\n    image: x\n    image: y\n"), HasSubstr("duplicate"));
  EXPECT_THAT(Refusal("services:\n  a:\n    image: x\n---\nservices:\n  b:\n    image: y\n"),
              HasSubstr("more than one YAML document"));
  EXPECT_THAT(Refusal("services: [\n"), HasSubstr("invalid YAML"));
}

TEST(ComposeTest, AliasBombStopsQuickly) {
  // Eleven levels of seven aliases each: 7^11 values once expanded.
  std::string yaml = "x-a: &a [lol, lol, lol, lol, lol, lol, lol]\n";
  for (char c = 'b'; c <= 'l'; ++c) {
    const std::string prev(1, static_cast<char>(c - 1));
    absl::StrAppend(&yaml, "x-", std::string(1, c), ": &", std::string(1, c), " [");
    for (int i = 0; i < 7; ++i) absl::StrAppend(&yaml, i ? ", *" : "*", prev);
    absl::StrAppend(&yaml, "]\n");
  }
  yaml += "services:\n  a:\n    image: x\n";
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::string> out = Convert(yaml);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted) << out.status();
  EXPECT_LT(took, std::chrono::seconds(5));

  // An alias inside the node its anchor names: a cycle in yaml-cpp's graph.
  out = Convert("x-loop: &l [*l]\nservices:\n  a:\n    image: x\n");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted) << out.status();
  // A long string repeated by aliases counts its bytes each time.
  out = Convert(
      absl::StrCat("x-s: &s \"", std::string(200'000, 'a'),
                   "\"\nx-t: [*s, *s, *s, *s, *s, *s, *s, *s, *s, *s, *s, *s, *s, *s, *s, *s, "
                   "*s, *s, *s, *s, *s, *s, *s, *s, *s]\nservices:\n  a:\n    image: x\n"));
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted) << out.status();
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("bytes of text"));
  // Nested anchors: the copy kept of each is counted too.
  std::string nested = "x-n: ";
  for (int i = 0; i < 60; ++i) absl::StrAppend(&nested, "&n", i, " [");
  absl::StrAppend(&nested, "[", absl::StrJoin(std::vector<std::string>(3000, "v"), ","), "]",
                  std::string(60, ']'), "\nservices:\n  a:\n    image: x\n");
  out = Convert(nested);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted) << out.status();
}

TEST(ComposeTest, DeepNestingAndLargeFilesAreRefused) {
  std::string deep = "services:\n  a:\n    image: x\n    x-deep: ";
  deep += std::string(100, '[') + std::string(100, ']') + "\n";
  absl::StatusOr<std::string> out = Convert(deep);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted) << out.status();

  std::string big = "services:\n  a:\n    image: x\n" + std::string((256 << 10) + 1, '#');
  out = Convert(big);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("262144"));
}

TEST(ComposeTest, TooManyServicesAreRefused) {
  std::string yaml = "services:\n";
  for (int i = 0; i < 33; ++i) absl::StrAppend(&yaml, "  s", i, ":\n    image: x\n");
  EXPECT_THAT(Refusal(yaml), HasSubstr("more than 32"));
}

// ---- ComposeInput's settings ----

TEST(ComposeTest, DefaultCpuLimitIsSetWhereTheFileSetsNoneAndCapsTheRequest) {
  auto container = [](const std::string& yaml, const std::string& limit) {
    ComposeInput in{yaml, "compose.yaml", {}};
    in.default_cpu_limit = limit;
    std::vector<kube::Object> objects = Confined(ConvertCompose(in));
    if (objects.empty()) return std::string();
    const kube::Object c_owner = Container(objects[0]);
    const rapidjson::Value& c = c_owner.json();
    return absl::StrCat(Str(c, {"resources", "requests", "cpu"}), "/",
                        Str(c, {"resources", "limits", "cpu"}));
  };
  EXPECT_EQ(container(OneService(""), "2"), "100m/2");
  EXPECT_EQ(container(OneService(""), "50m"), "50m/50m");  // request = min(request, limit)
  EXPECT_EQ(container(OneService("    cpus: \"0.5\"\n"), "2"), "100m/500m");  // the file's wins
  EXPECT_EQ(container(OneService("    deploy: {resources: {reservations: {cpus: '1'}}}\n"), "500m"),
            "500m/500m");
  EXPECT_EQ(container(OneService(""), ""), "100m/");  // no quota on CPU: no limit
}

TEST(ComposeTest, PullSecretNamesTheRegistryCredentialsInEveryPod) {
  ComposeInput in{"services:\n  a:\n    image: x\n  b:\n    image: y\n    restart: \"no\"\n",
                  "compose.yaml",
                  {}};
  in.pull_secret = true;
  std::vector<kube::Object> objects = Confined(ConvertCompose(in));
  int pods = 0;
  for (const kube::Object& o : objects) {
    if (o.Kind() == "Service") continue;
    ++pods;
    const rapidjson::Value* secrets = o.Find({"spec", "template", "spec", "imagePullSecrets"});
    ASSERT_NE(secrets, nullptr) << o.Kind();
    ASSERT_EQ(secrets->Size(), 1u);
    EXPECT_EQ(Str((*secrets)[0], {"name"}), "registry-credentials");
  }
  EXPECT_EQ(pods, 2);
  in.pull_secret = false;
  objects = Confined(ConvertCompose(in));
  ASSERT_FALSE(objects.empty());
  EXPECT_EQ(objects[0].Find({"spec", "template", "spec", "imagePullSecrets"}), nullptr);
}

TEST(ComposeTest, DiskEmptyDirsGetTheVolumeSizeLimitMemoryOnesTheirOwn) {
  const std::string yaml = R"(services:
  app:
    image: x
    volumes: ["data:/data", "/anon", {type: tmpfs, target: /run}]
    shm_size: 64m
volumes: {data: {}}
)";
  for (const std::string limit : {"1Gi", "5Gi", ""}) {
    SCOPED_TRACE(limit);
    ComposeInput in{yaml, "compose.yaml", {}};
    in.volume_size_limit = limit;
    std::vector<kube::Object> objects = Confined(ConvertCompose(in));
    ASSERT_FALSE(objects.empty());
    const rapidjson::Value& vols = *objects[0].Find({"spec", "template", "spec", "volumes"});
    ASSERT_EQ(vols.Size(), 4u);
    EXPECT_EQ(Str(vols[0], {"emptyDir", "sizeLimit"}), limit);  // named
    EXPECT_EQ(Str(vols[1], {"emptyDir", "sizeLimit"}), limit);  // anonymous
    EXPECT_EQ(Str(vols[2], {"emptyDir", "medium"}), "Memory");  // tmpfs: no size given
    EXPECT_EQ(Str(vols[2], {"emptyDir", "sizeLimit"}), "");
    EXPECT_EQ(Str(vols[3], {"emptyDir", "sizeLimit"}), "64Mi");  // shm
  }
}

// ---- One-shot services ----

TEST(ComposeTest, OneShotServicesBecomeJobsNamedByTheirSpec) {
  struct Case {
    std::string body, policy;
    int backoff;
  };
  const Case cases[] = {
      {"    restart: \"no\"\n", "Never", 0},
      {"    restart: no\n", "Never", 0},
      {"    restart: on-failure\n", "OnFailure", 6},
      {"    restart: on-failure:3\n", "OnFailure", 3},
      {"    deploy: {restart_policy: {condition: none}}\n", "Never", 0},
      {"    deploy: {restart_policy: {condition: on-failure, max_attempts: 2, delay: 5s}}\n",
       "OnFailure", 2},
      {"    restart: always\n    deploy: {restart_policy: {condition: on-failure}}\n", "OnFailure",
       6},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body);
    std::vector<kube::Object> objects = Objects(absl::StrCat(
        "services:\n  migrate:\n    image: app:1\n    ports: [\"8080:80\"]\n", c.body));
    ASSERT_EQ(objects.size(), 2u);
    const kube::Object& job = objects[0];
    EXPECT_EQ(job.Kind(), "Job");
    EXPECT_THAT(std::string(job.Name()), testing::MatchesRegex("migrate-[0-9a-f]{8}"));
    EXPECT_EQ(job.Int({"spec", "backoffLimit"}), c.backoff);
    EXPECT_EQ(job.Find({"spec", "ttlSecondsAfterFinished"}), nullptr);
    EXPECT_EQ(job.Str({"spec", "template", "spec", "restartPolicy"}), c.policy);
    EXPECT_EQ(job.Str({"spec", "template", "metadata", "labels", "app.kubernetes.io/name"}),
              "migrate");
    EXPECT_EQ(Str(Container(job), {"image"}), "app:1");
    EXPECT_EQ(objects[1].Kind(), "Service");
    EXPECT_EQ(objects[1].Name(), "migrate");
    EXPECT_EQ(objects[1].Str({"spec", "selector", "app.kubernetes.io/name"}), "migrate");
  }
  // A new image is a new Job (its pod template cannot change); the same spec the same name.
  auto job_name = [](const std::string& image) {
    std::vector<kube::Object> objects =
        Objects(absl::StrCat("services:\n  m:\n    image: ", image, "\n    restart: \"no\"\n"));
    return objects.empty() ? std::string() : std::string(objects[0].Name());
  };
  EXPECT_EQ(job_name("app:1"), job_name("app:1"));
  EXPECT_NE(job_name("app:1"), job_name("app:2"));
  // A long service name still gives a Job name of at most 63 (its pods' job-name label).
  const std::string long_name(63, 'j');
  std::vector<kube::Object> objects =
      Objects(absl::StrCat("services:\n  ", long_name, ":\n    image: x\n    restart: \"no\"\n"));
  ASSERT_FALSE(objects.empty());
  EXPECT_LE(objects[0].Name().size(), 63u);

  for (const char* body : {"    restart: always\n", "    restart: unless-stopped\n", ""}) {
    std::vector<kube::Object> d = Objects(OneService(body));
    ASSERT_FALSE(d.empty());
    EXPECT_EQ(d[0].Kind(), "Deployment") << body;
  }
  EXPECT_THAT(Refusal(OneService("    restart: \"no\"\n    scale: 2\n")),
              AllOf(HasSubstr("scale"), HasSubstr("one-shot")));
  EXPECT_THAT(Refusal(OneService("    restart: sometimes\n")), HasSubstr("restart"));
  EXPECT_THAT(Refusal(OneService("    restart: on-failure:x\n")), HasSubstr("restart"));
}

// ---- $ and Kubernetes' $(VAR) expansion ----

TEST(ComposeTest, LiteralDollarsAreEscapedForKubernetesExpansion) {
  const kube::Object c_owner =
      Container(OnlyDeployment(OneService("    environment:\n"
                                          "      PASSWORD: \"pa$$$$word\"\n"
                                          "      REF: \"$$(HOME)\"\n"
                                          "    entrypoint: [\"/bin/sh\", \"-c\"]\n"
                                          "    command: [\"echo $$HOME\"]\n")));
  const rapidjson::Value& c = c_owner.json();
  // compose reads pa$$word (its $$ is one $); Kubernetes turns each $$ into $.
  EXPECT_EQ(Str(c["env"][0], {"value"}), "pa$$$$word");
  EXPECT_EQ(Str(c["env"][1], {"value"}), "$$(HOME)");  // not expanded by Kubernetes
  EXPECT_THAT(Strings(c, "command"), ElementsAre("/bin/sh", "-c"));
  EXPECT_THAT(Strings(c, "args"), ElementsAre("echo $$HOME"));
}

// ---- Names ----

TEST(ComposeTest, ContainerNamesAndAliasesAreExtraHeadlessServices) {
  const std::string yaml = R"(services:
  db:
    image: postgres
    container_name: Shop-DB
    ports: ["5433:5432"]
    networks:
      default:
        aliases: [database, pg]
  app:
    image: app
    container_name: app_container_1
    links: ["db:sql", "db"]
  worker:
    image: app
    links: ["db:sql"]
    networks: [default]
)";
  std::vector<kube::Object> objects = Objects(yaml);
  std::vector<std::string> seen;
  for (const kube::Object& o : objects)
    seen.push_back(absl::StrCat(
        o.Kind(), " ", o.Name(), " -> ",
        o.Kind() == "Service" ? o.Str({"spec", "selector", "app.kubernetes.io/name"}) : ""));
  EXPECT_THAT(seen, ElementsAre("Deployment db -> ", "Service db -> db", "Service shop-db -> db",
                                "Service database -> db", "Service pg -> db", "Deployment app -> ",
                                "Service app -> app", "Service sql -> db", "Deployment worker -> ",
                                "Service worker -> worker"));
  for (const kube::Object& o : objects)
    if (o.Kind() == "Service") {
      EXPECT_EQ(o.Str({"spec", "clusterIP"}), "None") << o.Name();
    }

  // A name taken twice is refused, naming both.
  EXPECT_THAT(Refusal("services:\n  a:\n    image: x\n    container_name: b\n  b:\n    image: y\n"),
              AllOf(HasSubstr("container_name b of service \"a\""), HasSubstr("service \"b\"")));
  EXPECT_THAT(Refusal("services:\n  a:\n    image: x\n    networks: {n: {aliases: [s]}}\n"
                      "  b:\n    image: y\n    container_name: s\n"),
              AllOf(HasSubstr("network alias s of service \"a\""),
                    HasSubstr("container_name s of service \"b\"")));
  EXPECT_THAT(Refusal("services:\n  a:\n    image: x\n    networks: {n: {aliases: [bad_alias]}}\n"),
              AllOf(HasSubstr("aliases"), HasSubstr("DNS-1035")));
  EXPECT_THAT(Refusal("services:\n  a:\n    image: x\n    links: [ghost]\n"),
              AllOf(HasSubstr("links"), HasSubstr("ghost")));
}

TEST(ComposeTest, ARenamedServiceResolvesByItsNewName) {
  std::vector<kube::Object> objects = Objects("services:\n  my_db:\n    image: postgres\n");
  ASSERT_EQ(objects.size(), 2u);
  EXPECT_EQ(objects[1].Kind(), "Service");
  EXPECT_EQ(objects[1].Name(), "my-db");
}

TEST(ComposeTest, ServicesWithProfilesAreSkippedBeforeTheirKeysAreRead) {
  std::vector<kube::Object> objects = Objects(
      "services:\n  app:\n    image: x\n  debug:\n    image: y\n    profiles: [dev]\n"
      "    privileged: true\n    network_mode: host\n  \"Not A Name\":\n    profiles: [dev]\n");
  ASSERT_EQ(objects.size(), 2u);
  EXPECT_EQ(objects[0].Name(), "app");
}

// ---- Hostile input ----

TEST(ComposeTest, InputsThatHungTheYamlLoaderAreRefusedQuickly) {
  const std::string fuzzed(
      ",servhces:\n  web:\n    build: .\n    ports: [\"8080:3000\"]\n    envir\0\0"
      "00000000ata\"]\nvolumes:\n  adta: {}\n",
      101);
  // The fuzzer's timeout (LoadAll's endless documents at a leading `,`) and
  // inputs known to hang or loop some yaml-cpp versions.
  for (const std::string& yaml :
       {fuzzed, std::string(","), std::string(",\n"), std::string("a: 1\n,"), std::string("[:"),
        std::string("{:"), std::string("[:]"), std::string("{# ke\ny{:"), std::string("- !+(.,.)"),
        std::string("\0", 1), std::string("services:\n  a:\x01\n")}) {
    SCOPED_TRACE(yaml);
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<std::string> out = Convert(yaml);
    EXPECT_FALSE(out.ok());
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  }
  EXPECT_THAT(Refusal(fuzzed), AllOf(HasSubstr("line 5"), HasSubstr("0x00")));
  EXPECT_THAT(Refusal(","), HasSubstr("invalid YAML"));
  // Tabs, carriage returns and empty documents around the one are fine.
  EXPECT_TRUE(Convert("---\r\nservices:\r\n  a:\r\n    image:\tx\r\n...\n---\n").ok());
}

TEST(ComposeTest, LargeInputsOfAnyShapeConvertOrAreRefusedQuickly) {
  auto timed = [](const std::string& yaml) {
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<std::string> out = Convert(yaml);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
    return out;
  };
  // A 200 KiB environment list: refused at its 1000th entry's bound.
  std::string env = "services:\n  a:\n    image: x\n    environment:\n";
  for (int i = 0; env.size() < (200 << 10); ++i) absl::StrAppend(&env, "      - V", i, "=x\n");
  absl::StatusOr<std::string> out = timed(env);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(out.status().message()),
              AllOf(HasSubstr("environment"), HasSubstr("1000")));
  // 1000 variables set many times over (compose's last wins): converts.
  env = "services:\n  a:\n    image: x\n    environment:\n";
  for (int i = 0; i < 1000; ++i) absl::StrAppend(&env, "      - V", i % 500, "=", i, "\n");
  out = timed(env);
  ASSERT_TRUE(out.ok()) << out.status();
  // Many declared volumes, 64 mounts: converts; 65 are refused.
  std::string vols = "services:\n  a:\n    image: x\n    volumes:\n";
  for (int i = 0; i < 64; ++i) absl::StrAppend(&vols, "      - v", i * 100, ":/m", i, "\n");
  absl::StrAppend(&vols, "volumes:\n");
  for (int i = 0; i < 10000; ++i) absl::StrAppend(&vols, "  v", i, ":\n");
  out = timed(vols);
  ASSERT_TRUE(out.ok()) << out.status();
  std::string tmpfs = "    tmpfs: [/t0";
  for (int i = 1; i < 65; ++i) absl::StrAppend(&tmpfs, ", /t", i);
  EXPECT_THAT(Refusal(OneService(tmpfs + "]\n")), HasSubstr("more than 64 mounts"));
  // 65 ports.
  std::string ports = "services:\n  a:\n    image: x\n    ports: [";
  for (int i = 1; i <= 65; ++i) absl::StrAppend(&ports, i > 1 ? "," : "", i);
  out = timed(ports + "]\n");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted);
  // A service of 20000 x- keys and a long flat list: converts.
  std::string wide = "services:\n  a:\n    image: x\n";
  for (int i = 0; wide.size() < (250 << 10); ++i) absl::StrAppend(&wide, "    x-k", i, ": v\n");
  out = timed(wide);
  ASSERT_TRUE(out.ok()) << out.status();
}

}  // namespace
}  // namespace controllers

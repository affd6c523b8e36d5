#include "informer/store.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/mock_lister_watcher.h"

namespace informer {
namespace {

using testing_support::Obj;

std::vector<std::string> Names(const std::vector<kube::Object>& objs) {
  std::vector<std::string> out;
  for (const auto& o : objs) out.emplace_back(o.Name());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(StoreTest, UpsertRemoveGetShareTheObject) {
  Store s;
  EXPECT_FALSE(s.Upsert(Obj("ns", "a", "1")));
  auto old = s.Upsert(Obj("ns", "a", "2"));
  ASSERT_TRUE(old);
  EXPECT_EQ(old->ResourceVersion(), "1");
  auto got = s.Get("ns/a");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->ResourceVersion(), "2");
  // Readers share the same parsed document: no copy.
  EXPECT_EQ(&s.Get("ns/a")->json(), &got->json());
  EXPECT_EQ(s.Remove("ns/a")->ResourceVersion(), "2");
  EXPECT_FALSE(s.Get("ns/a"));
  EXPECT_FALSE(s.Remove("ns/a"));
}

// A write's response written through (Informer::WriteThrough) stays until the
// watch or a relist brings the same version or a newer one.
TEST(StoreTest, AnOlderVersionNeverReplacesANewerOne) {
  Store s;
  s.Upsert(Obj("ns", "a", "5"));
  auto kept = s.Upsert(Obj("ns", "a", "3"));
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->ResourceVersion(), "5");
  EXPECT_FALSE(kept->Superseded());
  EXPECT_EQ(s.Get("ns/a")->ResourceVersion(), "5");
  EXPECT_TRUE(s.Replace({Obj("ns", "a", "4")}).empty());
  EXPECT_EQ(s.Get("ns/a")->ResourceVersion(), "5");
  auto deltas = s.Replace({Obj("ns", "a", "6")});
  ASSERT_EQ(deltas.size(), 1u);
  EXPECT_EQ(deltas[0].now->ResourceVersion(), "6");
  // Versions that are not numbers cannot be ordered: the incoming one wins.
  s.Upsert(Obj("ns", "a", "x7"));
  EXPECT_EQ(s.Get("ns/a")->ResourceVersion(), "x7");
  s.Upsert(Obj("ns", "a", "2"));
  EXPECT_EQ(s.Get("ns/a")->ResourceVersion(), "2");
}

// A write's answer that reaches the cache after the watch delivered the
// object's deletion must not bring it back.
TEST(StoreTest, AnAnswerOlderThanASeenDeletionIsNoNewObject) {
  Store s;
  s.Upsert(Obj("ns", "a", "5"));
  s.Remove("ns/a", "9");
  EXPECT_FALSE(s.Upsert(Obj("ns", "a", "7")));
  EXPECT_FALSE(s.Get("ns/a"));
  s.Upsert(Obj("ns", "a", "10"));  // created again
  EXPECT_EQ(s.Get("ns/a")->ResourceVersion(), "10");
}

TEST(StoreTest, IndexesFollowChanges) {
  Store s;
  s.AddIndex("namespace", ByNamespace);
  s.AddIndex("env", ByLabel("catalyst.dev/environment-name"));
  s.Upsert(Obj("a", "x", "1", R"({"catalyst.dev/environment-name":"e1"})"));
  s.Upsert(Obj("a", "y", "1", R"({"catalyst.dev/environment-name":"e2"})"));
  s.Upsert(Obj("b", "z", "1", R"({"catalyst.dev/environment-name":"e1"})"));
  EXPECT_EQ(Names(s.ByIndex("namespace", "a")), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(Names(s.ByIndex("env", "e1")), (std::vector<std::string>{"x", "z"}));
  // Relabel y: it moves between index values.
  s.Upsert(Obj("a", "y", "2", R"({"catalyst.dev/environment-name":"e1"})"));
  EXPECT_EQ(Names(s.ByIndex("env", "e1")), (std::vector<std::string>{"x", "y", "z"}));
  EXPECT_TRUE(s.ByIndex("env", "e2").empty());
  s.Remove("a/x");
  EXPECT_EQ(Names(s.ByIndex("namespace", "a")), (std::vector<std::string>{"y"}));
  EXPECT_TRUE(s.ByIndex("nope", "a").empty());
}

TEST(StoreTest, ReplaceReportsTheGapAsAddsUpdatesAndTombstones) {
  Store s;
  s.AddIndex("namespace", ByNamespace);
  s.Upsert(Obj("n", "kept", "1"));
  s.Upsert(Obj("n", "changed", "1"));
  s.Upsert(Obj("n", "deleted", "1"));
  auto deltas = s.Replace({Obj("n", "kept", "1"), Obj("n", "changed", "5"), Obj("n", "new", "6")});
  std::vector<std::string> seen;
  for (const auto& d : deltas) {
    if (!d.old)
      seen.push_back("add:" + std::string(d.now->Name()));
    else if (!d.now)
      seen.push_back("delete:" + std::string(d.old->Name()));
    else
      seen.push_back("update:" + std::string(d.now->Name()) + "@" +
                     std::string(d.now->ResourceVersion()));
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::string>{"add:new", "delete:deleted", "update:changed@5"}));
  EXPECT_EQ(s.Size(), 3u);
  EXPECT_EQ(Names(s.ByIndex("namespace", "n")),
            (std::vector<std::string>{"changed", "kept", "new"}));
}

TEST(StoreTest, MarksWhatItNoLongerHolds) {
  Store s;
  const kube::Object a1 = Obj("n", "a", "1");
  s.Upsert(a1);
  s.Upsert(a1);  // the same document again (a re-delivered event)
  EXPECT_FALSE(a1.Superseded());
  const kube::Object a2 = Obj("n", "a", "2");
  s.Upsert(a2);
  EXPECT_TRUE(a1.Superseded());
  EXPECT_FALSE(a2.Superseded());
  s.Remove("n/a");
  EXPECT_TRUE(a2.Superseded());
}

TEST(StoreTest, ReplaceKeepsUnchangedDocumentsAndMarksTheRest) {
  Store s;
  const kube::Object kept = Obj("n", "kept", "1"), changed = Obj("n", "changed", "1"),
                     deleted = Obj("n", "deleted", "1");
  for (const auto& o : {kept, changed, deleted}) s.Upsert(o);
  const kube::Object relisted_kept = Obj("n", "kept", "1");
  s.Replace({relisted_kept, Obj("n", "changed", "2")});
  EXPECT_EQ(&s.Get("n/kept")->json(), &kept.json()) << "the cached document stays";
  EXPECT_FALSE(kept.Superseded());
  EXPECT_TRUE(changed.Superseded());
  EXPECT_TRUE(deleted.Superseded());
  EXPECT_EQ(s.Get("n/changed")->ResourceVersion(), "2");
}

TEST(PackedStoreTest, ReadersGetParsedCopiesThatKnowWhenTheyAreStale) {
  Store s(/*packed=*/true);
  const kube::Object a1 = Obj("n", "a", "1", R"({"app":"web"})");
  EXPECT_FALSE(s.Upsert(a1));
  auto got = s.Get("n/a");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->Serialize(), a1.Serialize());
  EXPECT_NE(&got->json(), &a1.json()) << "a copy parsed from the packed text";
  EXPECT_NE(&s.Get("n/a")->json(), &got->json()) << "each reader its own";
  EXPECT_EQ(got->Mark(), s.Get("n/a")->Mark()) << "copies share the cache's mark";
  EXPECT_FALSE(got->Superseded());

  auto old = s.Upsert(Obj("n", "a", "2", R"({"app":"api"})"));
  ASSERT_TRUE(old);
  EXPECT_EQ(old->Label("app"), "web");
  EXPECT_TRUE(got->Superseded());
  auto now = s.Get("n/a");
  EXPECT_FALSE(now->Superseded());
  EXPECT_EQ(now->Label("app"), "api");

  EXPECT_EQ(s.Remove("n/a")->ResourceVersion(), "2");
  EXPECT_TRUE(now->Superseded());
  EXPECT_FALSE(s.Get("n/a"));
}

TEST(PackedStoreTest, ReplaceComparesVersionsAndKeepsUnchangedEntries) {
  Store s(/*packed=*/true);
  s.AddIndex("namespace", ByNamespace);
  for (const char* name : {"kept", "changed", "deleted"}) s.Upsert(Obj("n", name, "1"));
  const auto kept = s.Get("n/kept"), changed = s.Get("n/changed"), deleted = s.Get("n/deleted");
  auto deltas = s.Replace({Obj("n", "kept", "1"), Obj("n", "changed", "2"), Obj("n", "new", "1")});
  ASSERT_EQ(deltas.size(), 3u);  // update changed, add new, delete deleted
  EXPECT_FALSE(kept->Superseded());
  EXPECT_TRUE(changed->Superseded());
  EXPECT_TRUE(deleted->Superseded());
  EXPECT_EQ(s.Get("n/kept")->Mark(), kept->Mark()) << "the cached entry stays";
  EXPECT_EQ(Names(s.ByIndex("namespace", "n")),
            (std::vector<std::string>{"changed", "kept", "new"}));
  EXPECT_EQ(Names(s.List()), (std::vector<std::string>{"changed", "kept", "new"}));
}

}  // namespace
}  // namespace informer

// WriteMetaCurves (experiments/common/meta_curves.h), read back through HDF5's own API: the set
// curves under /meta with their types, unset ones absent, the records' shapes and meanings, and
// the errors raised before anything is written; RunLosses' curves.
#include "common/meta_curves.h"

#include <gtest/gtest.h>

#include <H5Cpp.h>
#include <filesystem>
#include <stdexcept>
#include <unistd.h>

namespace hypergrad::experiments {
namespace {

namespace fs = std::filesystem;

class MetaCurvesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("meta_curves_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    path_ = (dir_ / "out.h5").string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Meaning(const std::string& object) {
    H5::H5File file(path_, H5F_ACC_RDONLY);
    H5::DataSet d = file.openDataSet(object);
    H5::Attribute a = d.openAttribute("meaning");
    std::string text;
    a.read(a.getStrType(), text);
    return text;
  }
  bool Exists(const std::string& object) {
    H5::H5File file(path_, H5F_ACC_RDONLY);
    return H5Lexists(file.getId(), "/meta", H5P_DEFAULT) > 0 && file.nameExists(object);
  }
  fs::path dir_;
  std::string path_;
};

TEST_F(MetaCurvesTest, WritesTheSetCurvesAndRecordsOnly) {
  const std::vector<double> train = {3.0, 2.5}, norms = {0.1, 0.2}, grid = {1, 2, 3, 4, 5, 6};
  const std::vector<std::int64_t> exact = {1, 0};
  {
    H5Writer w(path_);
    WriteMetaCurves(w, {.train_loss = train,
                        .hypergradient_norm = norms,
                        .reversal_exact = exact,
                        .train_loss_meaning = "with the penalty",
                        .more = {{"grid", grid, {2, 3}, "a 2 x 3 record"}, {"plain", train}}});
    w.Commit();
  }
  EXPECT_EQ(ReadH5Doubles(path_, "/meta/train_loss"), train);
  EXPECT_EQ(ReadH5Doubles(path_, "/meta/hypergradient_norm"), norms);
  std::vector<std::size_t> shape;
  EXPECT_EQ(ReadH5Doubles(path_, "/meta/grid", &shape), grid);
  EXPECT_EQ(shape, (std::vector<std::size_t>{2, 3}));
  EXPECT_EQ(ReadH5Doubles(path_, "/meta/plain"), train);
  EXPECT_EQ(Meaning("/meta/train_loss"), "with the penalty");
  EXPECT_EQ(Meaning("/meta/grid"), "a 2 x 3 record");
  {
    H5::H5File file(path_, H5F_ACC_RDONLY);
    H5::DataSet d = file.openDataSet("/meta/reversal_exact");
    EXPECT_EQ(d.getTypeClass(), H5T_INTEGER);
    std::vector<std::int64_t> got(2);
    d.read(got.data(), H5::PredType::NATIVE_INT64);
    EXPECT_EQ(got, exact);
    EXPECT_FALSE(d.attrExists("meaning"));
    EXPECT_FALSE(file.openDataSet("/meta/plain").attrExists("meaning"));
  }
  for (const char* unset : {"/meta/valid_loss", "/meta/test_loss", "/meta/test_error"}) {
    EXPECT_FALSE(Exists(unset)) << unset;
  }
}

TEST_F(MetaCurvesTest, ASetEmptyCurveIsWrittenEmpty) {
  {
    H5Writer w(path_);
    WriteMetaCurves(w, {.valid_loss = std::vector<double>{}});
    w.Commit();
  }
  EXPECT_TRUE(Exists("/meta/valid_loss"));
  EXPECT_TRUE(ReadH5Doubles(path_, "/meta/valid_loss").empty());
}

TEST(RunLosses, AppendsEachRunsLossesAndViewsThemAsTheFourCurves) {
  struct Run {
    double train_loss, valid_loss, test_loss, test_error;
  };
  RunLosses losses;
  losses.Append(Run{1.0, 2.0, 3.0, 0.5});
  losses.Append(Run{1.5, 2.5, 3.5, 0.25});
  EXPECT_EQ(losses.train_loss, (std::vector<double>{1.0, 1.5}));
  EXPECT_EQ(losses.valid_loss, (std::vector<double>{2.0, 2.5}));
  EXPECT_EQ(losses.test_loss, (std::vector<double>{3.0, 3.5}));
  EXPECT_EQ(losses.test_error, (std::vector<double>{0.5, 0.25}));
  const MetaCurves curves = losses.Curves();
  ASSERT_TRUE(curves.train_loss && curves.valid_loss && curves.test_loss && curves.test_error);
  EXPECT_EQ(curves.train_loss->data(), losses.train_loss.data());
  EXPECT_EQ(curves.valid_loss->data(), losses.valid_loss.data());
  EXPECT_EQ(curves.test_loss->data(), losses.test_loss.data());
  EXPECT_EQ(curves.test_error->data(), losses.test_error.data());
  EXPECT_EQ(curves.test_error->size(), 2u);
  EXPECT_FALSE(curves.hypergradient_norm || curves.reversal_exact);
  EXPECT_TRUE(curves.train_loss_meaning.empty() && curves.more.empty());
}

TEST_F(MetaCurvesTest, BadRequestsThrowBeforeWritingAnything) {
  const std::vector<double> v = {1.0};
  H5Writer w(path_);
  EXPECT_THROW(WriteMetaCurves(w, {.valid_loss = v, .train_loss_meaning = "of nothing"}),
               std::invalid_argument);
  EXPECT_THROW(WriteMetaCurves(w, {.valid_loss = v, .more = {{"", v}}}), std::invalid_argument);
  w.Commit();
  EXPECT_FALSE(Exists("/meta/valid_loss"));
}

}  // namespace
}  // namespace hypergrad::experiments

"""More everyday models and inputs a new user brings to `modelship package`, beyond
tests/support/model_zoo.py: other linear models and ensembles, encoders fed categories they
never saw, imputers on text, labels that are bools or integers not 0..n-1, integer, bool and
pandas 'category' columns, column names with spaces, dots and accents, one feature, a model
fitted on a numpy array, target transforms, multi-output wrappers and a 200-column table;
then more families (naive Bayes, robust and quantile regressors, one-vs-rest/one, chains,
stacking and voting regressors, feature unions, early-stopped boosters, a ranker) and odd
data: int8/uint16/float16/uint64 columns, a constant and an all-NaN column, tz-aware dates,
Decimal, pyarrow strings, unseen categories of a 'category' column, empty strings, a very long
text, names with '/', ':' or a leading digit or named like the package's outputs, 520 columns.
Each is small and seeded; its held-out rows hold what a notebook's next batch would
(unseen categories, gaps)."""

from __future__ import annotations

import decimal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.cross_decomposition import PLSRegression
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.ensemble import (
    AdaBoostClassifier,
    AdaBoostRegressor,
    BaggingClassifier,
    BaggingRegressor,
    ExtraTreesClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    StackingClassifier,
    StackingRegressor,
    VotingClassifier,
    VotingRegressor,
)
from sklearn.feature_extraction.text import HashingVectorizer, TfidfVectorizer
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import (
    ElasticNet,
    HuberRegressor,
    Lasso,
    LogisticRegression,
    Perceptron,
    QuantileRegressor,
    Ridge,
    RidgeClassifier,
    SGDRegressor,
)
from sklearn.multiclass import OneVsOneClassifier, OneVsRestClassifier
from sklearn.multioutput import (
    ClassifierChain,
    MultiOutputClassifier,
    MultiOutputRegressor,
    RegressorChain,
)
from sklearn.naive_bayes import BernoulliNB, ComplementNB, GaussianNB, MultinomialNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import (
    Binarizer,
    FunctionTransformer,
    KBinsDiscretizer,
    MaxAbsScaler,
    MinMaxScaler,
    Normalizer,
    OneHotEncoder,
    OrdinalEncoder,
    PolynomialFeatures,
    QuantileTransformer,
    RobustScaler,
    StandardScaler,
    TargetEncoder,
)
from sklearn.svm import LinearSVC, NuSVC, NuSVR, OneClassSVM
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from support.model_zoo import Fitted, customers, reviews

TRAIN_ROWS, HELD_OUT_ROWS = 200, 50
NUMBERS = ["age", "income", "visits"]


@dataclass(frozen=True)
class EverydayCase:
    """One model a new user brings, and how `modelship package` must answer it:
    ``float32``/``float64`` (converted), ``fallback`` (the pinned pickle), or ``refused``
    (one line matching ``refusal``, nothing written)."""

    name: str
    build: Callable[[], Fitted]
    outcome: str
    refusal: str | None = None
    library: str | None = None
    """The optional library (the boosting extra) it needs, if any."""


def _frames(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    train = customers(TRAIN_ROWS, seed)
    held_out = customers(HELD_OUT_ROWS, seed + 100)
    for frame in (train, held_out):
        frame["income"] = frame["income"].fillna(50_000.0)
    return train, held_out


def _numeric(model: Any, target: Callable[[pd.DataFrame], Any], seed: int = 21) -> Fitted:
    train, held_out = _frames(seed)
    return Fitted(model.fit(train[NUMBERS], target(train)), train[NUMBERS], held_out[NUMBERS])


def _churn(frame: pd.DataFrame) -> np.ndarray[Any, Any]:
    score = (frame["age"] > 50).astype(int) + (frame["visits"] > 4) + (frame["income"] > 55_000)
    return np.where(score >= 2, "churn", "stay")


def _spend(frame: pd.DataFrame) -> pd.Series:
    return frame["age"] * 3 + frame["income"] / 1_000 + frame["visits"] * 5


def _tier(frame: pd.DataFrame) -> np.ndarray[Any, Any]:
    """Three integer classes that are not 0..n-1."""
    return np.select([frame["age"] < 35, frame["age"] < 60], [3, 7], 10)


def _scaled(estimator: Any) -> Any:
    return make_pipeline(StandardScaler(), estimator)


def _with_city(model: Any, encoder: Any, target: Callable[[pd.DataFrame], Any]) -> Fitted:
    """Numbers scaled and ``city`` encoded; the held-out rows hold a city never seen."""
    train, held_out = _frames(23)
    held_out.loc[held_out.index % 5 == 0, "city"] = "brest"
    columns = [*NUMBERS, "city"]
    pre = ColumnTransformer([("n", StandardScaler(), NUMBERS), ("c", encoder, ["city"])])
    model = Pipeline([("pre", pre), ("model", model)])
    return Fitted(model.fit(train[columns], target(train)), train[columns], held_out[columns])


def _naive_bayes_after_one_hot() -> Fitted:
    train, held_out = _frames(25)
    columns = ["city", "visits"]
    pre = ColumnTransformer(
        [("c", OneHotEncoder(sparse_output=False), ["city"]), ("n", "passthrough", ["visits"])]
    )
    model = Pipeline([("pre", pre), ("nb", GaussianNB())])
    return Fitted(model.fit(train[columns], _churn(train)), train[columns], held_out[columns])


def _most_frequent_text() -> Fitted:
    """Gaps in a text column filled with its most frequent value, then one-hot encoded."""
    train, held_out = _frames(27)
    for frame in (train, held_out):
        frame.loc[frame.index % 7 == 0, "city"] = None
    columns = [*NUMBERS, "city"]
    text = make_pipeline(
        SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
    )
    pre = ColumnTransformer([("n", StandardScaler(), NUMBERS), ("c", text, ["city"])])
    model = Pipeline([("pre", pre), ("clf", LogisticRegression())])
    return Fitted(model.fit(train[columns], _churn(train)), train[columns], held_out[columns])


def _median_and_constant() -> Fitted:
    train, held_out = _frames(29)
    for frame in (train, held_out):
        frame.loc[frame.index % 6 == 0, "income"] = np.nan
        frame.loc[frame.index % 9 == 0, "city"] = None
    columns = [*NUMBERS, "city"]
    text = make_pipeline(
        SimpleImputer(strategy="constant", fill_value="unknown"),
        OneHotEncoder(handle_unknown="ignore"),
    )
    numbers = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    pre = ColumnTransformer([("n", numbers, NUMBERS), ("c", text, ["city"])])
    model = Pipeline([("pre", pre), ("reg", Ridge())])
    target = _spend(train.fillna({"income": 50_000.0}))
    return Fitted(model.fit(train[columns], target), train[columns], held_out[columns])


def _bool_label() -> Fitted:
    return _numeric(_scaled(LogisticRegression()), lambda frame: frame["age"] > 45)


def _typed_columns() -> Fitted:
    """int64, int32 and bool feature columns, as pandas reads them from a database."""
    train, held_out = _frames(31)
    for frame in (train, held_out):
        frame["age"] = frame["age"].astype("int64")
        frame["visits"] = frame["visits"].astype("int32")
    columns = ["age", "visits", "premium", "income"]
    model = make_pipeline(StandardScaler(), LogisticRegression())
    return Fitted(model.fit(train[columns], _churn(train)), train[columns], held_out[columns])


def _category_dtype() -> Fitted:
    train, held_out = _frames(33)
    for frame in (train, held_out):
        frame["city"] = frame["city"].astype("category")
    columns = [*NUMBERS, "city"]
    pre = ColumnTransformer(
        [("n", StandardScaler(), NUMBERS), ("c", OneHotEncoder(handle_unknown="ignore"), ["city"])]
    )
    model = Pipeline([("pre", pre), ("clf", LogisticRegression())])
    return Fitted(model.fit(train[columns], _churn(train)), train[columns], held_out[columns])


def _odd_column_names() -> Fitted:
    train, held_out = _frames(35)
    renames = {"age": "customer age", "income": "income.eur", "visits": "visites_été"}
    train, held_out = train.rename(columns=renames), held_out.rename(columns=renames)
    columns = list(renames.values())
    target = _spend(train.rename(columns={v: k for k, v in renames.items()}))
    model = _scaled(Ridge())
    return Fitted(model.fit(train[columns], target), train[columns], held_out[columns])


def _single_feature() -> Fitted:
    train, held_out = _frames(37)
    return Fitted(
        DecisionTreeRegressor(max_depth=4).fit(train[["age"]], _spend(train)),
        train[["age"]],
        held_out[["age"]],
    )


def _numpy_fitted() -> Fitted:
    """Fitted on ``frame.values``: no column names; the sample's columns are taken in order."""
    train, held_out = _frames(39)
    model = _scaled(LogisticRegression()).fit(train[NUMBERS].to_numpy(), _churn(train))
    return Fitted(model, train[NUMBERS], held_out[NUMBERS])


def _wide_frame() -> Fitted:
    rng = np.random.default_rng(41)
    columns = [f"f{index:03d}" for index in range(200)]
    train = pd.DataFrame(rng.normal(size=(TRAIN_ROWS, 200)), columns=columns)
    held_out = pd.DataFrame(rng.normal(size=(HELD_OUT_ROWS, 200)), columns=columns)
    target = np.where(train["f000"] + train["f001"] - train["f199"] > 0, "up", "down")
    return Fitted(_scaled(LogisticRegression()).fit(train, target), train, held_out)


def _stacking() -> Any:
    return StackingClassifier(
        [("tree", DecisionTreeClassifier(max_depth=3)), ("lr", _scaled(LogisticRegression()))],
        final_estimator=LogisticRegression(),
    )


def _voting(voting: str) -> Any:
    return VotingClassifier(
        [("tree", DecisionTreeClassifier(max_depth=3)), ("lr", _scaled(LogisticRegression()))],
        voting=voting,
    )


def _hgb_native_categories() -> Fitted:
    """HistGradientBoosting on a pandas 'category' column: scikit-learn >= 1.6 splits it as a
    category by itself (categorical_features="from_dtype")."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    train, held_out = _frames(43)
    for frame in (train, held_out):
        frame["city"] = frame["city"].astype("category")
    columns = [*NUMBERS, "city"]
    model = HistGradientBoostingClassifier(max_iter=20)
    return Fitted(model.fit(train[columns], _churn(train)), train[columns], held_out[columns])


def _nullable_int() -> Fitted:
    train, held_out = _frames(45)
    for frame in (train, held_out):
        frame["visits"] = frame["visits"].astype("Int64")
        frame.loc[frame.index % 8 == 0, "visits"] = pd.NA
    model = make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression())
    target = _churn(train.fillna({"visits": 0}))
    return Fitted(model.fit(train[NUMBERS], target), train[NUMBERS], held_out[NUMBERS])


def _grid_search() -> Any:
    from sklearn.model_selection import GridSearchCV

    return GridSearchCV(_scaled(LogisticRegression()), {"logisticregression__C": [0.1, 1.0]}, cv=3)


def _pandas_output() -> Fitted:
    train, held_out = _frames(47)
    columns = [*NUMBERS, "city"]
    pre = ColumnTransformer(
        [
            ("n", StandardScaler(), NUMBERS),
            ("c", OneHotEncoder(sparse_output=False, handle_unknown="ignore"), ["city"]),
        ]
    )
    model = Pipeline([("pre", pre), ("clf", LogisticRegression())]).set_output(transform="pandas")
    return Fitted(model.fit(train[columns], _churn(train)), train[columns], held_out[columns])


def _extra_columns() -> Fitted:
    """The sample is the training table, target and id included."""
    train, held_out = _frames(49)
    train["customer_id"] = [f"c{i}" for i in range(len(train))]
    train["churned"] = _churn(train)
    model = _scaled(LogisticRegression()).fit(train[NUMBERS], train["churned"])
    return Fitted(model, train, held_out[NUMBERS])


def _dbscan() -> Fitted:
    """Clusters only the rows it was fitted on: it has no predict."""
    from sklearn.cluster import DBSCAN

    train, held_out = _frames(51)
    model = _scaled(DBSCAN()).fit(train[NUMBERS])
    return Fitted(model, train[NUMBERS], held_out[NUMBERS])


def _kbins() -> Any:
    # visits (a Poisson count) has tied quantile edges: fewer bins than asked for
    bins = KBinsDiscretizer(5, encode="onehot-dense", quantile_method="averaged_inverted_cdf")
    return make_pipeline(bins, LogisticRegression())


def _ordinal_then_forest() -> Fitted:
    encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    return _with_city(RandomForestClassifier(20, random_state=0), encoder, _churn)


def _two_outputs(frame: pd.DataFrame) -> np.ndarray[Any, Any]:
    return np.column_stack([_spend(frame), frame["age"]])


def _log_target() -> Any:
    return TransformedTargetRegressor(_scaled(Ridge()), func=np.log, inverse_func=np.exp)


def _date_column_dropped() -> Fitted:
    """The table keeps a date column the ColumnTransformer drops (remainder="drop")."""
    train, held_out = _frames(61)
    for frame in (train, held_out):
        days = pd.to_timedelta(np.arange(len(frame)), unit="D")
        frame["signup"] = pd.Timestamp("2024-01-01") + days
    columns = [*NUMBERS, "city", "signup"]
    pre = ColumnTransformer(
        [("n", StandardScaler(), NUMBERS), ("c", OneHotEncoder(handle_unknown="ignore"), ["city"])]
    )
    model = Pipeline([("pre", pre), ("clf", LogisticRegression())])
    return Fitted(model.fit(train[columns], _churn(train)), train[columns], held_out[columns])


def _two_labels(frame: pd.DataFrame) -> np.ndarray[Any, Any]:
    return np.column_stack([(frame["age"] > 50).astype(int), (frame["visits"] > 4).astype(int)])


def _boosting_on_categories(library: str) -> Fitted:
    """LightGBM or XGBoost splitting a pandas 'category' column natively."""
    train, held_out = _frames(65)
    for frame in (train, held_out):
        frame["city"] = frame["city"].astype("category")
    columns = [*NUMBERS, "city"]
    if library == "lightgbm":
        from lightgbm import LGBMClassifier

        model: Any = LGBMClassifier(n_estimators=20, verbose=-1)
    else:
        from xgboost import XGBClassifier

        model = XGBClassifier(n_estimators=20, enable_categorical=True, tree_method="hist")
    target = (_churn(train) == "churn").astype(int)
    return Fitted(model.fit(train[columns], target), train[columns], held_out[columns])


def _nearest_neighbors() -> Fitted:
    from sklearn.neighbors import NearestNeighbors

    train, held_out = _frames(77)
    return Fitted(NearestNeighbors().fit(train[NUMBERS]), train[NUMBERS], held_out[NUMBERS])


def _small_and_unsigned_ints() -> Fitted:
    """int8, uint16, float16 and uint64 columns, as a compact Parquet file keeps them."""
    train, held_out = _frames(105)
    for frame in (train, held_out):
        frame["age"] = frame["age"].astype("int8")
        frame["visits"] = frame["visits"].astype("uint16")
        frame["income_k"] = (frame["income"] / 1_000).astype("float16")  # float16 tops at 65504
        frame["points"] = (np.arange(len(frame), dtype="uint64") * 7 % 13) * np.uint64(10**12)
    columns = ["age", "visits", "income_k", "points"]
    model = _scaled(LogisticRegression()).fit(train[columns], _churn(train))
    return Fitted(model, train[columns], held_out[columns])


def _uint64_ids_beyond_float_precision() -> Fitted:
    """A uint64 id column near 2**63: one float64 value for all its rows."""
    train, held_out = _frames(107)
    for frame in (train, held_out):
        frame["account"] = np.uint64(2**63) + np.arange(len(frame), dtype="uint64") % 13
    columns = [*NUMBERS, "account"]
    model = RandomForestClassifier(10, random_state=0)
    return Fitted(model.fit(train[columns], _churn(train)), train[columns], held_out[columns])


def _named_like_outputs(model: Any, target: Callable[[pd.DataFrame], Any]) -> Fitted:
    """Columns named as a package's outputs are ("label", "probabilities", "prediction")."""
    train, held_out = _frames(109)
    renames = {"age": "label", "income": "probabilities", "visits": "prediction"}
    columns = list(renames.values())
    train_named, held_named = train.rename(columns=renames), held_out.rename(columns=renames)
    model = model.fit(train_named[columns], target(train))
    return Fitted(model, train_named[columns], held_named[columns])


def _knn_on_city(text: Any, gap: object, held_out_gap: object) -> Fitted:
    """Distance-weighted kNN (shipped as its pinned pickle) after ``text`` on ``city``, which
    has ``gap`` in every fourth training row and ``held_out_gap`` in the held-out rows'."""
    train, held_out = _frames(111)
    train.loc[train.index % 4 == 0, "city"] = gap
    held_out.loc[held_out.index % 4 == 0, "city"] = held_out_gap
    columns = [*NUMBERS, "city"]
    pre = ColumnTransformer([("n", StandardScaler(), NUMBERS), ("c", text, ["city"])])
    model = Pipeline([("pre", pre), ("knn", KNeighborsClassifier(4, weights="distance"))])
    return Fitted(model.fit(train[columns], _churn(train)), train[columns], held_out[columns])


def _char_tfidf_with_empty_reviews() -> Fitted:
    """Character n-grams (no converter) on reviews, some of them empty ("")."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    train, held_out = reviews(TRAIN_ROWS, 113), reviews(HELD_OUT_ROWS, 114)
    train.loc[train.index % 7 == 0, "review"] = ""
    held_out.loc[held_out.index % 5 == 0, "review"] = ""
    words = train["review"].str.count("great|love|fast") - train["review"].str.count("awful|hate")
    tfidf = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3))
    model = make_pipeline(tfidf, LogisticRegression()).fit(train["review"], words > 0)
    return Fitted(model, train[["review"]], held_out[["review"]])


# Beyond the families above: estimators, transformers and data a new user brings next.


def _counts() -> Fitted:
    """Multinomial naive Bayes on counts (visits, age), as it is meant to be used."""
    train, held_out = _frames(71)
    columns = ["visits", "age"]
    return Fitted(
        MultinomialNB().fit(train[columns], _churn(train)), train[columns], held_out[columns]
    )


def _isotonic() -> Fitted:
    train, held_out = _frames(73)
    model = IsotonicRegression(out_of_bounds="clip").fit(train[["age"]], _spend(train))
    return Fitted(model, train[["age"]], held_out[["age"]])


def _hgb_categories_by_name() -> Fitted:
    """categorical_features given by column name, on a text column."""
    train, held_out = _frames(75)
    columns = [*NUMBERS, "city"]
    model = HistGradientBoostingClassifier(max_iter=10, categorical_features=["city"])
    return Fitted(model.fit(train[columns], _churn(train)), train[columns], held_out[columns])


def _gapped(model: Any, target: Callable[[pd.DataFrame], Any]) -> Fitted:
    """Gaps in age and income, in the training and the held-out rows."""
    train, held_out = _frames(81)
    for frame in (train, held_out):
        frame.loc[frame.index % 6 == 0, "income"] = np.nan
        frame.loc[frame.index % 7 == 0, "age"] = np.nan
    labels = target(train.fillna({"income": 50_000.0, "age": 40.0}))
    return Fitted(model.fit(train[NUMBERS], labels), train[NUMBERS], held_out[NUMBERS])


def _text_model(vectorizer: Any) -> Fitted:
    from support.model_zoo import _liked

    train, held_out = reviews(TRAIN_ROWS, 7), reviews(HELD_OUT_ROWS, 8)
    model = make_pipeline(vectorizer, LogisticRegression(max_iter=500))
    model.fit(train["review"], _liked(train))
    return Fitted(model, train[["review"]], held_out[["review"]])


def _long_text() -> Fitted:
    """A 25,000-word review among the held-out rows."""
    fitted = _text_model(TfidfVectorizer())
    fitted.held_out.loc[0, "review"] = " ".join(["great"] * 20_000 + ["awful"] * 5_000)
    return fitted


def _ordinal_encoded_missing() -> Fitted:
    """OrdinalEncoder with its own codes for gaps and for cities never seen."""
    train, held_out = _frames(83)
    for frame in (train, held_out):
        frame.loc[frame.index % 5 == 0, "city"] = None
    held_out.loc[held_out.index % 7 == 0, "city"] = "brest"
    columns = [*NUMBERS, "city"]
    encoder = OrdinalEncoder(
        handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-2
    )
    pre = ColumnTransformer([("n", "passthrough", NUMBERS), ("c", encoder, ["city"])])
    model = Pipeline([("pre", pre), ("forest", RandomForestClassifier(20, random_state=0))])
    return Fitted(model.fit(train[columns], _churn(train)), train[columns], held_out[columns])


def _early_stopped(library: str) -> Fitted:
    """A booster stopped early on a validation set: it predicts with its best iteration."""
    train, held_out = _frames(85)
    fit_rows, check_rows = train.iloc[:150], train.iloc[150:]
    if library == "xgboost":
        from xgboost import XGBRegressor

        model: Any = XGBRegressor(n_estimators=200, early_stopping_rounds=5, max_depth=3)
        model.fit(
            fit_rows[NUMBERS],
            _spend(fit_rows),
            eval_set=[(check_rows[NUMBERS], _spend(check_rows))],
            verbose=False,
        )
    else:
        import lightgbm

        model = lightgbm.LGBMClassifier(n_estimators=200, verbose=-1)
        model.fit(
            fit_rows[NUMBERS],
            _churn(fit_rows),
            eval_set=[(check_rows[NUMBERS], _churn(check_rows))],
            callbacks=[lightgbm.early_stopping(5, verbose=False)],
        )
    return Fitted(model, train[NUMBERS], held_out[NUMBERS])


def _xgboost_ranker() -> Fitted:
    from xgboost import XGBRanker

    train, held_out = _frames(89)
    groups = np.repeat(np.arange(20), TRAIN_ROWS // 20)
    relevance = (train["age"] // 20).astype(int)
    model = XGBRanker(n_estimators=20, max_depth=3).fit(train[NUMBERS], relevance, qid=groups)
    return Fitted(model, train[NUMBERS], held_out[NUMBERS])


def _with_column(name: str, values: Callable[[pd.DataFrame], Any], model: Any, seed: int) -> Fitted:
    """The numbers and one more column ``name``, scaled into a logistic regression."""
    train, held_out = _frames(seed)
    for frame in (train, held_out):
        frame[name] = values(frame)
    columns = [*NUMBERS, name]
    return Fitted(model.fit(train[columns], _churn(train)), train[columns], held_out[columns])


def _city_encoded(
    prepare: Callable[[pd.DataFrame, pd.DataFrame], None], seed: int, *kept: str
) -> Fitted:
    """Numbers scaled and ``city`` one-hot encoded (unseen ignored), after ``prepare`` edits
    the training and held-out frames; columns ``kept`` are in the table, dropped by the model."""
    train, held_out = _frames(seed)
    prepare(train, held_out)
    columns = [*NUMBERS, "city", *kept]
    pre = ColumnTransformer(
        [("n", StandardScaler(), NUMBERS), ("c", OneHotEncoder(handle_unknown="ignore"), ["city"])]
    )
    model = Pipeline([("pre", pre), ("clf", LogisticRegression())])
    return Fitted(model.fit(train[columns], _churn(train)), train[columns], held_out[columns])


def _tz_aware(train: pd.DataFrame, held_out: pd.DataFrame) -> None:
    for frame in (train, held_out):
        hours = pd.to_timedelta(np.arange(len(frame)), unit="h")
        frame["signup"] = pd.Timestamp("2024-03-30", tz="Europe/Paris") + hours


def _pyarrow_strings(train: pd.DataFrame, held_out: pd.DataFrame) -> None:
    held_out.loc[held_out.index % 6 == 0, "city"] = "brest"
    for frame in (train, held_out):
        frame["city"] = frame["city"].astype("string[pyarrow]")


def _unseen_category(train: pd.DataFrame, held_out: pd.DataFrame) -> None:
    """A 'category' column whose held-out rows bring a category training never had."""
    held_out.loc[held_out.index % 5 == 0, "city"] = "brest"
    for frame in (train, held_out):
        frame["city"] = frame["city"].astype("category")


def _empty_strings(train: pd.DataFrame, held_out: pd.DataFrame) -> None:
    for frame in (train, held_out):
        frame.loc[frame.index % 4 == 0, "city"] = ""


def _decimals() -> Fitted:
    """Money as Decimal (a Parquet decimal128 column): no converter takes it as a number."""
    train, held_out = _frames(109)
    labels = _churn(train)
    for frame in (train, held_out):
        frame["income"] = [decimal.Decimal(f"{value:.2f}") for value in frame["income"]]
    model = _scaled(LogisticRegression()).fit(train[NUMBERS], labels)
    return Fitted(model, train[NUMBERS], held_out[NUMBERS])


def _punctuated_names() -> Fitted:
    """Names with '/', ':' and a leading digit, as exports from other tools have them."""
    train, held_out = _frames(119)
    renames = {"age": "customer/age", "income": "income:eur", "visits": "3m_visits"}
    target = _spend(train)
    train, held_out = train.rename(columns=renames), held_out.rename(columns=renames)
    columns = list(renames.values())
    return Fitted(_scaled(Ridge()).fit(train[columns], target), train[columns], held_out[columns])


def _wide_520() -> Fitted:
    rng = np.random.default_rng(121)
    columns = [f"f{index:03d}" for index in range(520)]
    train = pd.DataFrame(rng.normal(size=(TRAIN_ROWS, 520)), columns=columns)
    held_out = pd.DataFrame(rng.normal(size=(HELD_OUT_ROWS, 520)), columns=columns)
    target = np.where(train["f000"] - train["f519"] > 0, "up", "down")
    return Fitted(_scaled(LogisticRegression()).fit(train, target), train, held_out)


def _nullable_extension_dtypes() -> Fitted:
    """pandas' nullable 'boolean' (with gaps), 'Float64' and 'string' columns."""
    train, held_out = _frames(143)
    labels = _churn(train)
    for frame in (train, held_out):
        frame["premium"] = frame["premium"].astype("boolean")
        frame.loc[frame.index % 9 == 0, "premium"] = pd.NA
        frame["income"] = frame["income"].astype("Float64")
        frame["city"] = frame["city"].astype("string")
    columns = [*NUMBERS, "premium", "city"]
    numbers = make_pipeline(SimpleImputer(), StandardScaler())
    pre = ColumnTransformer(
        [
            ("n", numbers, [*NUMBERS, "premium"]),
            ("c", OneHotEncoder(handle_unknown="ignore"), ["city"]),
        ]
    )
    model = Pipeline([("pre", pre), ("clf", LogisticRegression())])
    return Fitted(model.fit(train[columns], labels), train[columns], held_out[columns])


def _zip_codes() -> Fitted:
    """Codes with leading zeros, kept as text."""
    rng = np.random.default_rng(147)
    codes = ["01000", "02100", "75001", "13001"]

    def prepare(train: pd.DataFrame, held_out: pd.DataFrame) -> None:
        for frame in (train, held_out):
            frame["city"] = rng.choice(codes, len(frame))

    return _city_encoded(prepare, 147)


def _numpy_model(model: Any) -> Fitted:
    """Fitted on ``frame.to_numpy()``, packaged with the pandas frame as its sample."""
    train, held_out = _frames(91)
    model = model.fit(train[NUMBERS].to_numpy(), _churn(train))
    return Fitted(model, train[NUMBERS], held_out[NUMBERS])


def _case(name: str, build: Callable[[], Fitted], outcome: str = "float32") -> EverydayCase:
    return EverydayCase(name, build, outcome)


CASES: list[EverydayCase] = [
    _case("sgd-regressor", lambda: _numeric(_scaled(SGDRegressor(random_state=0)), _spend)),
    _case("ridge-classifier", lambda: _numeric(_scaled(RidgeClassifier()), _churn)),
    _case("lasso", lambda: _numeric(_scaled(Lasso(alpha=0.1)), _spend)),
    _case("elastic-net", lambda: _numeric(_scaled(ElasticNet(alpha=0.1)), _spend)),
    # Exact 10-10 vote ties among its 20 trees on held-out rows (the label's tie-break).
    _case(
        "extra-trees-classifier", lambda: _numeric(ExtraTreesClassifier(20, random_state=0), _churn)
    ),
    _case(
        "bagging-classifier",
        lambda: _numeric(BaggingClassifier(n_estimators=10, random_state=0), _churn),
    ),
    _case(
        "adaboost-classifier",
        lambda: _numeric(AdaBoostClassifier(n_estimators=20, random_state=0), _churn),
    ),
    _case(
        "adaboost-regressor",
        lambda: _numeric(AdaBoostRegressor(n_estimators=20, random_state=0), _spend),
    ),
    _case("voting-soft", lambda: _numeric(_voting("soft"), _churn)),
    _case("voting-hard", lambda: _numeric(_voting("hard"), _churn)),
    _case("stacking-classifier", lambda: _numeric(_stacking(), _churn)),
    _case(
        "calibrated-linear-svc",
        lambda: _numeric(_scaled(CalibratedClassifierCV(LinearSVC())), _churn),
    ),
    _case("gaussian-nb-after-one-hot", _naive_bayes_after_one_hot),
    _case("kbins-discretizer", lambda: _numeric(_kbins(), _churn), "fallback"),
    _case(
        "polynomial-features",
        lambda: _numeric(make_pipeline(StandardScaler(), PolynomialFeatures(2), Ridge()), _spend),
    ),
    _case("ordinal-encoder-unknown-then-forest", _ordinal_then_forest, "float64"),
    _case(
        "one-hot-ignore-unseen",
        lambda: _with_city(LogisticRegression(), OneHotEncoder(handle_unknown="ignore"), _churn),
    ),
    _case(
        "one-hot-infrequent-categories",
        lambda: _with_city(
            LogisticRegression(),
            OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=70),
            _churn,
        ),
        "fallback",
    ),
    _case("target-encoder", lambda: _with_city(Ridge(), TargetEncoder(), _spend)),
    _case("imputer-most-frequent-text", _most_frequent_text),
    _case("imputer-median-and-constant-text", _median_and_constant),
    _case("bool-label", _bool_label),
    _case(
        "float-labels",
        lambda: _numeric(_scaled(LogisticRegression()), lambda f: (f["age"] > 45).astype(float)),
    ),
    _case("integer-labels-not-0-to-n", lambda: _numeric(_scaled(LogisticRegression()), _tier)),
    _case("int64-int32-bool-columns", _typed_columns),
    _case("nullable-int64-column-with-gaps", _nullable_int),
    _case("category-dtype-column", _category_dtype),
    _case("hist-gradient-boosting-native-category", _hgb_native_categories, "fallback"),
    _case("column-names-spaces-dots-unicode", _odd_column_names),
    _case("single-feature", _single_feature),
    _case("fitted-on-numpy-array", _numpy_fitted),
    _case("sample-with-id-and-target-columns", _extra_columns),
    _case("wide-200-columns", _wide_frame),
    _case("grid-search-cv", lambda: _numeric(_grid_search(), _churn)),
    _case("set-output-pandas", _pandas_output),
    _case("linear-svc-after-scaler", lambda: _numeric(_scaled(LinearSVC()), _churn)),
    _case(
        "multi-output-regressor",
        lambda: _numeric(MultiOutputRegressor(_scaled(Ridge())), _two_outputs),
    ),
    _case("one-class-svm", lambda: _numeric(_scaled(OneClassSVM()), lambda f: None)),
    _case(
        "function-transformer-log1p",
        lambda: _numeric(
            make_pipeline(FunctionTransformer(np.log1p), StandardScaler(), Ridge()), _spend
        ),
        "fallback",
    ),
    _case("transformed-target-regressor", lambda: _numeric(_log_target(), _spend), "fallback"),
    # skl2onnx's converter gives other probabilities (parity), or a graph that fails to run.
    _case(
        "linear-discriminant-analysis",
        lambda: _numeric(LinearDiscriminantAnalysis(), _churn),
        "fallback",
    ),
    _case(
        "quantile-transformer",
        lambda: _numeric(make_pipeline(QuantileTransformer(n_quantiles=50), Ridge()), _spend),
        "fallback",
    ),
    _case("date-column-the-model-drops", _date_column_dropped),
    _case(
        "passthrough-step",
        lambda: _numeric(Pipeline([("scale", "passthrough"), ("reg", Ridge())]), _spend),
    ),
    # Labels only: the probabilities are stacked output-first, not one row per input row.
    _case(
        "multi-output-classifier",
        lambda: _numeric(MultiOutputClassifier(LogisticRegression()), _two_labels),
    ),
    _case(
        "random-forest-two-labels",
        lambda: _numeric(RandomForestClassifier(10, random_state=0), _two_labels),
    ),
    # Distance-weighted votes: skl2onnx's labels differ from scikit-learn's on the sample.
    _case(
        "knn-distance-weighted",
        lambda: _numeric(_scaled(KNeighborsClassifier(4, weights="distance")), _churn),
        "fallback",
    ),
    EverydayCase(
        "lightgbm-native-category",
        lambda: _boosting_on_categories("lightgbm"),
        "fallback",
        library="lightgbm",
    ),
    EverydayCase(
        "xgboost-native-category",
        lambda: _boosting_on_categories("xgboost"),
        "fallback",
        library="xgboost",
    ),
    # No converter for the chains: two labels (or values) per row from the pinned pickle.
    _case(
        "classifier-chain",
        lambda: _numeric(_scaled(ClassifierChain(LogisticRegression())), _two_labels),
        "fallback",
    ),
    _case(
        "regressor-chain",
        lambda: _numeric(_scaled(RegressorChain(Ridge())), _two_outputs),
        "fallback",
    ),
    # The forest's label goes through modelship's vote-tie nodes, the regressor's is named.
    _case(
        "columns-named-label-probabilities-prediction",
        lambda: _named_like_outputs(RandomForestClassifier(10, random_state=0), _churn),
    ),
    _case(
        "regressor-columns-named-like-outputs",
        lambda: _named_like_outputs(_scaled(Ridge()), _spend),
    ),
    # The pinned pickle gets a text column's gap back as the sample held it (NaN, which the
    # imputer fills; None it would not), and its empty texts as "" (not as a gap).
    _case(
        "pickle-imputer-on-text-with-nan-gaps",
        lambda: _knn_on_city(
            make_pipeline(
                SimpleImputer(strategy="constant", fill_value="none"),
                OneHotEncoder(handle_unknown="ignore"),
            ),
            np.nan,
            np.nan,
        ),
        "fallback",
    ),
    _case(
        "pickle-empty-text-as-a-category",
        lambda: _knn_on_city(OneHotEncoder(handle_unknown="ignore"), "", ""),
        "fallback",
    ),
    _case("pickle-char-tfidf-empty-documents", _char_tfidf_with_empty_reviews, "fallback"),
    _case("int8-uint16-float16-uint64-columns", _small_and_unsigned_ints),
    _case("uint64-ids-beyond-float-precision", _uint64_ids_beyond_float_precision),
    # Beyond the families above (each packaged and scored by the CLI as a new user would).
    _case("nu-svr", lambda: _numeric(_scaled(NuSVR()), _spend)),
    _case(
        "nu-svc-probabilities",
        lambda: _numeric(_scaled(NuSVC(probability=True, random_state=0)), _churn),
    ),
    _case("bernoulli-nb", lambda: _numeric(_scaled(BernoulliNB()), _churn)),
    _case("complement-nb", lambda: _numeric(make_pipeline(MinMaxScaler(), ComplementNB()), _churn)),
    _case("multinomial-nb-on-counts", _counts),
    _case("perceptron", lambda: _numeric(_scaled(Perceptron(random_state=0)), _churn)),
    _case("huber-regressor", lambda: _numeric(_scaled(HuberRegressor()), _spend)),
    _case("quantile-regressor", lambda: _numeric(_scaled(QuantileRegressor(alpha=0.0)), _spend)),
    _case("pls-regression", lambda: _numeric(PLSRegression(2), _spend)),
    _case(
        "one-vs-rest", lambda: _numeric(_scaled(OneVsRestClassifier(LogisticRegression())), _tier)
    ),
    _case(
        "stacking-regressor",
        lambda: _numeric(
            StackingRegressor(
                [("tree", DecisionTreeRegressor(max_depth=3)), ("ridge", _scaled(Ridge()))]
            ),
            _spend,
        ),
    ),
    _case(
        "voting-regressor",
        lambda: _numeric(
            VotingRegressor(
                [("tree", DecisionTreeRegressor(max_depth=3)), ("ridge", _scaled(Ridge()))]
            ),
            _spend,
        ),
    ),
    _case(
        "bagging-regressor",
        lambda: _numeric(BaggingRegressor(n_estimators=10, random_state=0), _spend),
    ),
    _case(
        "normalizer-maxabs-robust-binarizer",
        lambda: _numeric(
            make_pipeline(
                RobustScaler(),
                MaxAbsScaler(),
                FeatureUnion([("norm", Normalizer()), ("bin", Binarizer())]),
                LogisticRegression(),
            ),
            _churn,
        ),
    ),
    _case(
        "pca-truncated-svd-select-k-best",
        lambda: _numeric(
            make_pipeline(
                StandardScaler(),
                FeatureUnion(
                    [
                        ("pca", PCA(2)),
                        ("svd", TruncatedSVD(2, random_state=0)),
                        ("best", SelectKBest(f_classif, k=2)),
                    ]
                ),
                LogisticRegression(),
            ),
            _churn,
        ),
    ),
    _case("very-long-text", _long_text),
    _case("ordinal-encoder-encoded-missing-value", _ordinal_encoded_missing),
    _case(
        "sklearn-forest-fitted-on-numpy",
        lambda: _numpy_model(RandomForestClassifier(10, random_state=0)),
    ),
    _case(
        "constant-column",
        lambda: _with_column("plan", lambda f: 1.0, _scaled(LogisticRegression()), 101),
    ),
    _case(
        "all-nan-column-kept-by-imputer",
        lambda: _with_column(
            "empty",
            lambda f: np.nan,
            make_pipeline(
                SimpleImputer(keep_empty_features=True), StandardScaler(), LogisticRegression()
            ),
            103,
        ),
    ),
    _case("tz-aware-datetime-dropped", lambda: _city_encoded(_tz_aware, 107, "signup")),
    _case("string-pyarrow-dtype-unseen-city", lambda: _city_encoded(_pyarrow_strings, 111)),
    _case("category-dtype-unseen-at-scoring", lambda: _city_encoded(_unseen_category, 113)),
    _case("empty-strings-as-a-category", lambda: _city_encoded(_empty_strings, 115)),
    _case("column-names-slash-colon-leading-digit", _punctuated_names),
    _case("wide-520-columns", _wide_520),
    _case(
        "labels-minus-one-and-one",
        lambda: _numeric(_scaled(LogisticRegression()), lambda f: np.where(f["age"] > 45, 1, -1)),
    ),
    _case("nullable-boolean-float64-string-dtypes", _nullable_extension_dtypes),
    _case("zip-codes-with-leading-zeros", _zip_codes),
    EverydayCase(
        "xgboost-early-stopping", lambda: _early_stopped("xgboost"), "float32", library="xgboost"
    ),
    EverydayCase(
        "lightgbm-early-stopping", lambda: _early_stopped("lightgbm"), "float32", library="lightgbm"
    ),
    # No converter carries these: each ships as its pinned pickle.
    _case("isotonic-regression", _isotonic, "fallback"),
    _case(
        "one-vs-one",
        lambda: _numeric(_scaled(OneVsOneClassifier(LogisticRegression())), _tier),
        "fallback",
    ),
    _case(
        "imputer-add-indicator",
        lambda: _gapped(
            make_pipeline(
                SimpleImputer(add_indicator=True), StandardScaler(), LogisticRegression()
            ),
            _churn,
        ),
        "fallback",
    ),
    _case("hashing-vectorizer", lambda: _text_model(HashingVectorizer(n_features=64)), "fallback"),
    _case("hist-gradient-boosting-categories-by-name", _hgb_categories_by_name, "fallback"),
    _case("decimal-column", _decimals, "fallback"),
    EverydayCase("xgboost-ranker", _xgboost_ranker, "fallback", library="xgboost"),
    EverydayCase("dbscan-no-predict", _dbscan, "refused", "has no predict method"),
    EverydayCase(
        "nearest-neighbors-no-predict", _nearest_neighbors, "refused", "has no predict method"
    ),
]

# Served by the real Triton binary too (tests/integration/serving): labels of two outputs
# per row, a fallback rebuilding a 'category' column, a vote-tie label of a forest.
SERVED_BY_TRITON = ["multi-output-classifier", "lightgbm-native-category", "extra-trees-classifier"]

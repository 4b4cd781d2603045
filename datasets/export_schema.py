"""
The tables of an SQLite export, exactly as `arkindex-export` 0.2.2 creates them from its peewee
models (`arkindex_export.create_database`), and the export version its readers expect: the
`arkindex-cli` 0.5.0 that installs it writes version 10 into the databases it creates, and readers
check it with `open_database(path, minimum_version=…)`. `datasets/tests/test_exports.py` compares
this schema with the one the package creates, statement by statement.

The schema is the package's, constraints included, and the export fills it within them: SQLite
checks each row as it is inserted, and the foreign keys are checked once the file is complete.
"""

EXPORT_VERSION = 10

SCHEMA = """
CREATE TABLE "image_server" (
    "id" INTEGER NOT NULL PRIMARY KEY,
    "url" VARCHAR(200) NOT NULL,
    "display_name" VARCHAR(250) NOT NULL,
    "max_width" INTEGER CHECK (max_width >= 0),
    "max_height" INTEGER CHECK (max_height >= 0),
    "version" INTEGER NOT NULL CHECK (version IN (2, 3))
);
CREATE UNIQUE INDEX "imageserver_url" ON "image_server" ("url");
CREATE TABLE "image" (
    "id" VARCHAR(37) NOT NULL PRIMARY KEY,
    "server_id" INTEGER NOT NULL,
    "url" TEXT NOT NULL,
    "width" INTEGER NOT NULL CHECK (width >= 0),
    "height" INTEGER NOT NULL CHECK (height >= 0),
    FOREIGN KEY ("server_id") REFERENCES "image_server" ("id")
);
CREATE INDEX "image_server_id" ON "image" ("server_id");
CREATE UNIQUE INDEX "image_url" ON "image" ("url");
CREATE TABLE "worker_version" (
    "id" VARCHAR(37) NOT NULL PRIMARY KEY,
    "slug" VARCHAR(100) NOT NULL,
    "name" VARCHAR(100) NOT NULL,
    "repository_url" VARCHAR(250),
    "revision" VARCHAR(200),
    "version" INTEGER,
    "type" VARCHAR(50) NOT NULL,
    CHECK ((version IS NULL) <> (revision IS NULL))
);
CREATE TABLE "worker_run" (
    "id" VARCHAR(37) NOT NULL PRIMARY KEY,
    "worker_version_id" VARCHAR(37) NOT NULL,
    "model_version_id" VARCHAR(37),
    "model_id" VARCHAR(37),
    "model_name" VARCHAR(100),
    "configuration_id" VARCHAR(37),
    "configuration" TEXT,
    FOREIGN KEY ("worker_version_id") REFERENCES "worker_version" ("id"),
    CHECK ((model_version_id IS NULL) = (model_id IS NULL) AND (model_id IS NULL) = (model_name IS NULL)),
    CHECK ((configuration_id IS NULL) = (configuration IS NULL))
);
CREATE INDEX "workerrun_worker_version_id" ON "worker_run" ("worker_version_id");
CREATE TABLE "element" (
    "id" VARCHAR(37) NOT NULL PRIMARY KEY,
    "name" VARCHAR(250) NOT NULL,
    "type" VARCHAR(50) NOT NULL,
    "image_id" VARCHAR(37),
    "polygon" TEXT,
    "confidence" REAL CHECK (confidence >= 0 AND confidence <= 1),
    "rotation_angle" INTEGER NOT NULL DEFAULT 0 CHECK (rotation_angle >= 0 AND rotation_angle <= 359),
    "mirrored" INTEGER NOT NULL DEFAULT 0 CHECK (mirrored IN (0, 1)),
    "worker_run_id" VARCHAR(37),
    "created" REAL NOT NULL,
    "updated" REAL NOT NULL,
    FOREIGN KEY ("image_id") REFERENCES "image" ("id"),
    FOREIGN KEY ("worker_run_id") REFERENCES "worker_run" ("id"),
    CHECK ((image_id IS NULL) = (polygon IS NULL))
);
CREATE INDEX "element_image_id" ON "element" ("image_id");
CREATE INDEX "element_worker_run_id" ON "element" ("worker_run_id");
CREATE TABLE "classification" (
    "id" VARCHAR(37) NOT NULL PRIMARY KEY,
    "class_name" VARCHAR(1024) NOT NULL,
    "confidence" REAL NOT NULL CHECK (confidence >= 0 AND confidence <= 1),
    "state" VARCHAR(16) NOT NULL DEFAULT 'pending',
    "element_id" VARCHAR(37) NOT NULL,
    "high_confidence" INTEGER NOT NULL DEFAULT 0 CHECK (high_confidence IN (0, 1)),
    "moderator" VARCHAR(255),
    "worker_run_id" VARCHAR(37),
    FOREIGN KEY ("element_id") REFERENCES "element" ("id"),
    FOREIGN KEY ("worker_run_id") REFERENCES "worker_run" ("id")
);
CREATE INDEX "classification_element_id" ON "classification" ("element_id");
CREATE INDEX "classification_worker_run_id" ON "classification" ("worker_run_id");
CREATE TABLE "dataset" (
    "id" VARCHAR(37) NOT NULL PRIMARY KEY,
    "name" VARCHAR(100) NOT NULL,
    "description" TEXT NOT NULL,
    "state" VARCHAR(50) NOT NULL DEFAULT 'open',
    "sets" TEXT NOT NULL
);
CREATE TABLE "dataset_element" (
    "id" VARCHAR(37) NOT NULL PRIMARY KEY,
    "element_id" VARCHAR(37) NOT NULL,
    "dataset_id" VARCHAR(37) NOT NULL,
    "set_name" VARCHAR(50) NOT NULL,
    FOREIGN KEY ("element_id") REFERENCES "element" ("id"),
    FOREIGN KEY ("dataset_id") REFERENCES "dataset" ("id")
);
CREATE INDEX "datasetelement_element_id" ON "dataset_element" ("element_id");
CREATE INDEX "datasetelement_dataset_id" ON "dataset_element" ("dataset_id");
CREATE TABLE "element_path" (
    "id" VARCHAR(37) NOT NULL PRIMARY KEY,
    "parent_id" VARCHAR(37) NOT NULL,
    "child_id" VARCHAR(37) NOT NULL,
    "ordering" INTEGER NOT NULL DEFAULT 0 CHECK (ordering >= 0),
    FOREIGN KEY ("parent_id") REFERENCES "element" ("id"),
    FOREIGN KEY ("child_id") REFERENCES "element" ("id")
);
CREATE INDEX "elementpath_parent_id" ON "element_path" ("parent_id");
CREATE INDEX "elementpath_child_id" ON "element_path" ("child_id");
CREATE UNIQUE INDEX "elementpath_parent_id_child_id" ON "element_path" ("parent_id", "child_id");
CREATE TABLE "entity_type" (
    "id" VARCHAR(37) NOT NULL PRIMARY KEY,
    "color" VARCHAR(6) NOT NULL DEFAULT 'ff0000',
    "name" VARCHAR(250) NOT NULL
);
CREATE UNIQUE INDEX "entitytype_name" ON "entity_type" ("name");
CREATE TABLE "export_version" (
    "version" NOT NULL
);
CREATE TABLE "metadata" (
    "id" VARCHAR(37) NOT NULL PRIMARY KEY,
    "name" VARCHAR(250) NOT NULL,
    "value" TEXT NOT NULL,
    "type" VARCHAR(50) NOT NULL,
    "element_id" VARCHAR(37) NOT NULL,
    "worker_run_id" VARCHAR(37),
    FOREIGN KEY ("element_id") REFERENCES "element" ("id"),
    FOREIGN KEY ("worker_run_id") REFERENCES "worker_run" ("id")
);
CREATE INDEX "metadata_element_id" ON "metadata" ("element_id");
CREATE INDEX "metadata_worker_run_id" ON "metadata" ("worker_run_id");
CREATE TABLE "transcription" (
    "id" VARCHAR(37) NOT NULL PRIMARY KEY,
    "orientation" TEXT NOT NULL DEFAULT 'horizontal-lr' CHECK (
        orientation IN ('horizontal-lr', 'horizontal-rl', 'vertical-lr', 'vertical-rl')
    ),
    "text" TEXT NOT NULL,
    "confidence" REAL CHECK (confidence >= 0 AND confidence <= 1),
    "element_id" VARCHAR(37) NOT NULL,
    "worker_run_id" VARCHAR(37),
    FOREIGN KEY ("element_id") REFERENCES "element" ("id"),
    FOREIGN KEY ("worker_run_id") REFERENCES "worker_run" ("id")
);
CREATE INDEX "transcription_element_id" ON "transcription" ("element_id");
CREATE INDEX "transcription_worker_run_id" ON "transcription" ("worker_run_id");
CREATE TABLE "transcription_entity" (
    "id" VARCHAR(37) NOT NULL PRIMARY KEY,
    "type_id" VARCHAR(37) NOT NULL,
    "length" INTEGER NOT NULL CHECK (length >= 0),
    "offset" INTEGER NOT NULL CHECK (offset >= 0),
    "confidence" REAL CHECK (confidence >= 0 AND confidence <= 1),
    "transcription_id" VARCHAR(37) NOT NULL,
    "worker_run_id" VARCHAR(37),
    FOREIGN KEY ("type_id") REFERENCES "entity_type" ("id"),
    FOREIGN KEY ("transcription_id") REFERENCES "transcription" ("id"),
    FOREIGN KEY ("worker_run_id") REFERENCES "worker_run" ("id")
);
CREATE INDEX "transcriptionentity_type_id" ON "transcription_entity" ("type_id");
CREATE INDEX "transcriptionentity_transcription_id" ON "transcription_entity" ("transcription_id");
CREATE INDEX "transcriptionentity_worker_run_id" ON "transcription_entity" ("worker_run_id");
CREATE UNIQUE INDEX "transcriptionentity_transcription_id_type_id_offset_leng_5961658" ON "transcription_entity" (
    "transcription_id", "type_id", "offset", "length", "worker_run_id"
);
"""

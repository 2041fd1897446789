package local.mysqlpgsync;

import java.util.Map;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.connect.connector.ConnectRecord;
import org.apache.kafka.connect.data.Field;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.transforms.Transformation;

/**
 * Drops the PostgreSQL change events written under one replication origin or its pool: the
 * origin itself, or the origin followed by '_' and digits (ADR 0012).
 *
 * <p>The backfill's COPY sessions write under such a pool, and Debezium reports it as
 * source.origin. Without this, every copied row went through Kafka, and the stream consumer
 * read and decoded each one only to drop it: a 50 GB backfill was sent back in full. Events
 * without a source.origin (heartbeats, transaction markers, other writers) pass unchanged, so
 * the connector's offsets still move on.
 */
public class DropOriginWrites<R extends ConnectRecord<R>> implements Transformation<R> {

    public static final String ORIGIN = "origin";

    private static final ConfigDef CONFIG = new ConfigDef().define(
            ORIGIN, ConfigDef.Type.STRING, ConfigDef.NO_DEFAULT_VALUE, ConfigDef.Importance.HIGH,
            "replication origin whose writes (and those of its pool, origin_<n>) are dropped");

    private String origin;

    @Override
    public R apply(R record) {
        if (!(record.value() instanceof Struct)) {
            return record;
        }
        Struct value = (Struct) record.value();
        Field sourceField = value.schema().field("source");
        if (sourceField == null) {
            return record;
        }
        Object source = value.get(sourceField);
        if (!(source instanceof Struct) || ((Struct) source).schema().field("origin") == null) {
            return record;
        }
        Object found = ((Struct) source).get("origin");
        return found instanceof String && inPool((String) found) ? null : record;
    }

    private boolean inPool(String found) {
        if (found.equals(origin)) {
            return true;
        }
        int start = origin.length() + 1;
        if (found.length() <= start || !found.startsWith(origin) || found.charAt(origin.length()) != '_') {
            return false;
        }
        for (int i = start; i < found.length(); i++) {
            if (!Character.isDigit(found.charAt(i))) {
                return false;
            }
        }
        return true;
    }

    @Override
    public ConfigDef config() {
        return CONFIG;
    }

    @Override
    public void configure(Map<String, ?> configs) {
        Object value = configs.get(ORIGIN);
        origin = value == null ? "" : value.toString().trim();
        if (origin.isEmpty()) {
            throw new org.apache.kafka.common.config.ConfigException(
                    ORIGIN, value, "set the replication origin to drop (the backfill's)");
        }
    }

    @Override
    public void close() {}
}

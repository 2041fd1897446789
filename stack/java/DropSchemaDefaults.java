package local.mysqlpgsync;

import java.util.IdentityHashMap;
import java.util.Map;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.connect.connector.ConnectRecord;
import org.apache.kafka.connect.data.Field;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.SchemaBuilder;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.transforms.Transformation;

/**
 * Removes the column defaults Debezium puts in the value schema, keeping every value as it is.
 *
 * <p>Kafka Connect's Struct.get returns a field's schema default where the value is null, and
 * converters read values that way (the Apicurio Avro converter always; JsonConverter unless
 * replace.null.with.default=false). So a NULL in a nullable column with a DEFAULT reached Kafka
 * as the default. Without defaults in the schema a NULL stays NULL. The stream consumer does not
 * read schema defaults; DDL defaults are carried by the mappings, not by the change events.
 */
public class DropSchemaDefaults<R extends ConnectRecord<R>> implements Transformation<R> {

    private final Map<Schema, Schema> stripped = new IdentityHashMap<>();

    @Override
    public R apply(R record) {
        Schema schema = record.valueSchema();
        if (schema == null || !(record.value() instanceof Struct)) {
            return record; // tombstones, schemaless values
        }
        Schema target = stripped.computeIfAbsent(schema, DropSchemaDefaults::strip);
        if (target == schema) {
            return record;
        }
        return record.newRecord(
                record.topic(), record.kafkaPartition(), record.keySchema(), record.key(),
                target, copy((Struct) record.value(), target), record.timestamp(),
                record.headers());
    }

    /** The same schema without defaults, or the schema itself when it holds none. */
    static Schema strip(Schema schema) {
        switch (schema.type()) {
            case STRUCT: {
                boolean changed = false;
                SchemaBuilder builder = like(schema, SchemaBuilder.struct());
                for (Field field : schema.fields()) {
                    Schema inner = strip(field.schema());
                    changed |= inner != field.schema();
                    builder.field(field.name(), inner);
                }
                return changed ? builder.build() : schema;
            }
            case ARRAY: {
                Schema items = strip(schema.valueSchema());
                if (items == schema.valueSchema() && schema.defaultValue() == null) {
                    return schema;
                }
                return like(schema, SchemaBuilder.array(items)).build();
            }
            case MAP: {
                Schema keys = strip(schema.keySchema());
                Schema values = strip(schema.valueSchema());
                if (keys == schema.keySchema() && values == schema.valueSchema()
                        && schema.defaultValue() == null) {
                    return schema;
                }
                return like(schema, SchemaBuilder.map(keys, values)).build();
            }
            default:
                return schema.defaultValue() == null
                        ? schema
                        : like(schema, SchemaBuilder.type(schema.type())).build();
        }
    }

    /** The builder with the schema's name, version, doc, parameters and optionality. */
    private static SchemaBuilder like(Schema schema, SchemaBuilder builder) {
        builder.name(schema.name()).version(schema.version()).doc(schema.doc());
        if (schema.parameters() != null) {
            builder.parameters(schema.parameters());
        }
        return schema.isOptional() ? builder.optional() : builder;
    }

    /** The value under the stripped schema, read without the old schema's defaults. */
    private static Object copy(Object value, Schema target) {
        if (value instanceof Struct) {
            Struct from = (Struct) value;
            Struct to = new Struct(target);
            for (Field field : target.fields()) {
                to.put(field, copy(from.getWithoutDefault(field.name()), field.schema()));
            }
            return to;
        }
        return value; // arrays and maps of structs do not occur in Debezium's row images
    }

    @Override
    public ConfigDef config() {
        return new ConfigDef();
    }

    @Override
    public void configure(Map<String, ?> configs) {}

    @Override
    public void close() {}
}

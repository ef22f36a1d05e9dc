import { create } from '@bufbuild/protobuf';
import {
  StringStringEntryProtoSchema,
  TensorProto_DataLocation,
  TensorProto_DataType as DataType,
  TensorProtoSchema,
  type TensorProto,
} from 'onnx-buf';
import type { DerivedTensor } from './derived-weights-file.ts';

const DTYPES: Readonly<Record<DerivedTensor['dtype'], DataType>> = {
  U8: DataType.UINT8,
  F16: DataType.FLOAT16,
  F32: DataType.FLOAT,
};

/**
 * A graph initializer named `name` that reads `tensor` from a derived weights file as ONNX
 * external data: `location` relative to the graph's external-data folder, `range` from
 * `DerivedTensors`.
 */
export function externalTensor(
  name: string,
  tensor: DerivedTensor,
  location: string,
  range: { readonly offset: number; readonly length: number },
): TensorProto {
  return create(TensorProtoSchema, {
    name,
    dims: tensor.shape.map(BigInt),
    dataType: DTYPES[tensor.dtype],
    dataLocation: TensorProto_DataLocation.EXTERNAL,
    externalData: [
      create(StringStringEntryProtoSchema, { key: 'location', value: location }),
      create(StringStringEntryProtoSchema, { key: 'offset', value: String(range.offset) }),
      create(StringStringEntryProtoSchema, { key: 'length', value: String(range.length) }),
    ],
  });
}
